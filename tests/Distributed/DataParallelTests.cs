using RawLongLoRA.Distributed;
using RawLongLoRA.MpiWorker;
using RawLongLoRA.Training;
using RawLongLoRA.Training.Checks;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Data parallelism on in-process ranks: a tiny model's loss and every trainable gradient equal the single-process
/// step on the same global batch (the scenario's checks; mpirun runs the same scenario), gradient buckets, the grid's
/// groups, and the errors for sizes that do not fit.
/// </summary>
public class DataParallelTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void The_loss_and_every_gradient_equal_the_single_process_step_under_causal_packed_and_s2_attn_masks(int ranks)
        => ThreadGroup.Run(ranks, world => TrainingScenarios.TrainingStep(world, ["none", "1"]));

    [Fact]
    public void A_rank_whose_rows_count_no_target_adds_zero_and_the_loss_stays_the_global_mean()
    {
        // Row 3 of each global batch counts nothing: at 4 ranks rank 3 holds only such rows.
        var step = TrainingScenarios.Step("causal");
        Assert.All(step, b => Assert.Equal(0, b.RowsOf(3, 1).CountedTargets));
        ThreadGroup.Run(4, world => TrainingScenarios.TrainingStep(world, ["none", "1"]));
    }

    [Fact]
    public void Small_gradients_share_buckets_in_reverse_order_and_a_large_one_is_reduced_alone()
    {
        ThreadGroup.Run(2, world =>
        {
            var p = new[] { 3, 5, 40, 2, 6 }.Select(n => Tensor.Zeros([n])).ToArray();
            for (int i = 0; i < p.Length; i++)
                p[i].Grad = Tensor.FromArray(Enumerable.Range(0, (int)p[i].Numel).Select(j => (float)(world.Rank + 1) * (i + 1) * (j + 1)).ToArray());
            p[1].Grad = world.Rank == 0 ? null : p[1].Grad; // no gradient on rank 0: it takes part with zeros
            using var dp = new DataParallel(world, p, bucketBytes: 10 * sizeof(float));
            Assert.Equal([[p[4], p[3]], [p[2]], [p[1], p[0]]], dp.Buckets.Select(b => b.ToArray()));
            dp.ReduceGradients();
            for (int i = 0; i < p.Length; i++)
            {
                float ranksSum = i == 1 ? 2 : 3; // rank 0 contributes 1×, rank 1 2× (rank 0 nothing for p[1])
                Assert.Equal(Enumerable.Range(0, (int)p[i].Numel).Select(j => ranksSum * (i + 1) * (j + 1)), p[i].Grad!.ToFloatArray());
            }
        });
    }

    [Fact]
    public void Once_the_first_backward_has_counted_each_gradients_uses_later_ones_start_every_bucket_before_backward_ends()
    {
        ThreadGroup.Run(2, world =>
        {
            using var tiny = new TinyTrainingStep(Device.Cpu);
            tiny.Model.GradientCheckpointing = true; // gradients accumulated inside the segments' own backward passes
            var trainable = tiny.Model.TrainableParameters().Select(p => p.Tensor).ToArray();
            using var dp = new DataParallel(world, trainable, bucketBytes: 256);
            var random = new Random(world.Rank);
            long[] ids = [.. Enumerable.Range(0, 16).Select(_ => (long)random.Next(32))];
            var batch = new TrainingBatch(1, 16, ids, [.. ids.Skip(1), TrainingBatch.IgnoreIndex], [.. Enumerable.Range(0, 16).Select(i => (long)i)], [0]);
            for (int step = 0; step < 2; step++)
            {
                foreach (var p in trainable)
                {
                    p.Grad?.Dispose();
                    p.Grad = null;
                }
                using (new DisposeScope())
                using (dp.Watch())
                    BatchLoss.Of(tiny.Model, batch).Backward();
                Assert.Equal(step == 0 ? 0 : dp.Buckets.Count(), dp.Started);
                dp.ReduceGradients();
            }
            Assert.True(dp.Buckets.Count() > 2);
        });
    }

    [Fact]
    public void The_grid_puts_consecutive_ranks_in_a_sequence_parallel_group_and_strided_ranks_in_a_data_parallel_one()
    {
        var places = new (int Sp, int SpSize, int Dp, int DpSize)[4];
        ThreadGroup.Run(4, world =>
        {
            using var grid = new ParallelGrid(world, 2);
            places[world.Rank] = (grid.SpRank, grid.SpSize, grid.DpRank, grid.DpSize);
            // The groups are real: a sum over each holds its members' ranks.
            using var sp = Tensor.FromArray(new[] { (float)world.Rank });
            grid.Sp.AllReduce(sp);
            Assert.Equal(world.Rank / 2 * 4 + 1, sp.ToFloatArray()[0]);
            using var dp = Tensor.FromArray(new[] { (float)world.Rank });
            grid.Dp.AllReduce(dp);
            Assert.Equal(world.Rank % 2 * 2 + 2, dp.ToFloatArray()[0]);
        });
        Assert.Equal([(0, 2, 0, 2), (1, 2, 0, 2), (0, 2, 1, 2), (1, 2, 1, 2)], places);
    }

    [Fact]
    public void Sizes_that_do_not_divide_are_refused_naming_both()
    {
        var e = Assert.Throws<AggregateException>(() => ThreadGroup.Run(4, world => _ = new ParallelGrid(world, 3)));
        Assert.Contains("4 ranks", e.InnerException!.Message);
        Assert.Contains("groups of 3 (sp-size)", e.InnerException.Message);
        var rows = TrainingScenarios.Step("causal")[0];
        e = Assert.Throws<AggregateException>(() => ThreadGroup.Run(3, world =>
        {
            using var grid = new ParallelGrid(world, 1);
            using var tiny = new TinyTrainingStep(Device.Cpu);
            using var step = new ParallelStep(tiny.Model, [], grid);
            step.Local(rows);
        }));
        Assert.Contains("4 rows cannot be shared by 3 data-parallel ranks", e.InnerException!.Message);
        Assert.Contains("not within its 4 rows", Assert.Throws<ArgumentOutOfRangeException>(() => rows.RowsOf(3, 2)).Message);
    }

    [Fact]
    public void A_rank_takes_its_rows_with_the_sequence_starts_that_fall_in_them()
    {
        var batch = TrainingScenarios.Step("packed")[0];
        var part = batch.RowsOf(2, 2);
        Assert.Equal(batch.Ids[64..], part.Ids);
        Assert.Equal(batch.Targets[64..], part.Targets);
        Assert.Equal([0, 7, 19, 32, 39, 51], part.SequenceStarts);
    }
}
