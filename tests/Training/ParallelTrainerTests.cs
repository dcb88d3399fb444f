using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Whole data-parallel runs on in-process ranks: the same first step as one process with the global batch, rank 0
/// alone writing the run's files, an exact resume, and the sequence-parallel options refused without ranks.
/// Serial: the trainer seeds the default generator, which is global.
/// </summary>
[Collection(SerialCollection.Name)]
public class ParallelTrainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rawlora-dp-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Batch size 1 per rank, no dropout (ranks as threads share the default generator).</summary>
    private TrainOptions Options(string run, int steps) => TinyModelFolder.RunOptions(_dir, run, steps) with
    {
        BatchSize = 1, LoraDropout = 0, DataCache = Path.Combine(_dir, "cache"),
    };

    /// <summary>Runs <paramref name="options"/> on <paramref name="ranks"/> ranks; rank 0's logs.</summary>
    private static List<StepLog> Run(int ranks, TrainOptions options, int stopAfter = 0)
    {
        var logs = new List<StepLog>();
        using var stop = new CancellationTokenSource();
        ThreadGroup.Run(ranks, world =>
        {
            using var trainer = new Trainer(options, s =>
            {
                logs.Add(s);
                if (s.Step == stopAfter)
                    stop.Cancel();
            }, world: world);
            trainer.Run(stop.Token);
        });
        return logs;
    }

    [Fact]
    public void Two_ranks_of_batch_size_1_make_the_first_step_of_one_process_with_batch_size_2()
    {
        var one = new List<StepLog>();
        using (var trainer = new Trainer(Options("one", 1) with { BatchSize = 2 }, one.Add))
            trainer.Run();
        var two = Run(2, Options("two", 1));
        Assert.Equal(one[0].Tokens, two[0].Tokens);
        Assert.InRange(Math.Abs(two[0].Loss - one[0].Loss) / one[0].Loss, 0, 1e-5);
        Assert.InRange(Math.Abs(two[0].GradNorm - one[0].GradNorm) / one[0].GradNorm, 0, 1e-5);
    }

    [Fact]
    public void Rank_0_alone_writes_logs_checkpoints_and_the_adapter_and_reports()
    {
        var said = new List<string>[2] { [], [] };
        // Rank 1 is pointed at a folder of its own: whatever it wrote would show there.
        var options = new[] { Options("lead", 2) with { SaveSteps = 1 }, Options("other", 2) with { SaveSteps = 1 } };
        ThreadGroup.Run(2, world =>
        {
            using var trainer = new Trainer(options[world.Rank], onMessage: said[world.Rank].Add, world: world);
            trainer.Run();
        });
        foreach (string written in new[] { "checkpoint-2", "adapter", "metrics.jsonl", "loss.png", "train_options.json" })
            Assert.True(File.Exists(Path.Combine(_dir, "lead", written)) || Directory.Exists(Path.Combine(_dir, "lead", written)), written);
        Assert.Equal(2, MetricsLog.Read(Path.Combine(_dir, "lead", "metrics.jsonl")).Count);
        Assert.False(Directory.Exists(Path.Combine(_dir, "other")));
        Assert.Empty(said[1]);
    }

    [Fact]
    public void A_stopped_and_resumed_data_parallel_run_continues_bitwise()
    {
        var whole = Run(2, Options("whole", 6));
        var first = Run(2, Options("parts", 6), stopAfter: 2);
        Assert.Equal(2, first.Count);
        var rest = Run(2, Options("parts", 6) with { Resume = true });
        Assert.Equal([3, 4, 5, 6], rest.Select(l => l.Step));
        Assert.Equal(whole.Select(l => l.Loss), first.Concat(rest).Select(l => l.Loss));
        Assert.Equal(whole.Select(l => l.GradNorm), first.Concat(rest).Select(l => l.GradNorm));
    }

    [Fact]
    public void A_checkpoint_of_another_number_of_ranks_is_refused_naming_it()
    {
        Run(2, Options("ranks", 2));
        var e = Assert.Throws<TrainingException>(() => new Trainer(Options("ranks", 4) with { Resume = true }));
        Assert.Contains("data-parallel ranks 2 there, 1 here", e.Message);
    }

    [Fact]
    public void Sequence_parallel_options_are_refused_without_ranks_and_when_they_do_not_fit()
    {
        Assert.Contains("launch it under mpirun", Assert.Throws<ArgumentException>(() => new Trainer(Options("sp", 1) with { Sp = "ring", SpSize = 2 })).Message);
        Assert.Contains("sp (--sp) is 'star'", Assert.Throws<ArgumentException>(() => new Trainer(Options("sp", 1) with { Sp = "star" })).Message);
        Assert.Contains("sp_size (--sp-size) is 2, but sp is none", Assert.Throws<ArgumentException>(() => new Trainer(Options("sp", 1) with { SpSize = 2 })).Message);
        Assert.Contains("ring_layout (--ring-layout) is 'spiral'", Assert.Throws<ArgumentException>(() => new Trainer(Options("sp", 1) with { RingLayout = "spiral" })).Message);
    }
}
