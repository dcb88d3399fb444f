using System.Collections.Concurrent;
using RawLongLoRA.Distributed;
using RawLongLoRA.Model;
using RawLongLoRA.MpiWorker;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Ring attention on ranks that are threads of this process (the "ring" scenario, which mpirun runs too): o, dq, dk
/// and dv equal one process's attention over whole rows at 1 to 4 ranks, plain and zig-zag, under every mask case;
/// pairs of blocks a mask makes empty are not computed, and zig-zag evens out the causal work; bad input fails
/// naming what is wrong. The scenario runs under mpirun too, at 2 and 4 ranks.
/// </summary>
[Collection(MpiRun.Collection)]
public class RingAttentionTests
{
    [MpiTheory]
    [InlineData(2)]
    [InlineData(4)]
    public void EqualsOneProcessUnderMpirun(int ranks)
        => Assert.Contains($"ring: {ranks} ranks, {2 * RingScenarios.Cases.Count} cases equal one process", MpiRun.Pass(ranks, "ring"));

    public static TheoryData<int, string, string> RanksCasesLayouts()
    {
        var data = new TheoryData<int, string, string>();
        foreach (int ranks in new[] { 2, 3, 4 })
            foreach (string name in RingScenarios.Cases.Keys)
                foreach (string layout in new[] { "plain", "zig-zag" })
                    data.Add(ranks, name, layout);
        data.Add(1, "S2 packed", "plain");
        return data;
    }

    [Theory]
    [MemberData(nameof(RanksCasesLayouts))]
    public void EqualsOneProcess(int ranks, string name, string layout)
        => ThreadGroup.Run(ranks, world => RingScenarios.Ring(world, [name, layout]));

    [Fact]
    public void EqualsOneProcessInACheckpointedSegment()
        => ThreadGroup.Run(3, world => RingScenarios.Ring(world, ["S2 packed", "zig-zag", "checkpointed"]));

    [Fact]
    public void WithoutRecordingGivesTheSameOutput()
    {
        // Evaluation runs the ring with nothing recorded: what the op saves for backward is let go at once.
        ThreadGroup.Run(2, world =>
        {
            using var scope = new DisposeScope();
            var spec = RingScenarios.Cases["S2 packed"].Spec();
            var shards = new SequenceShards(spec.RowLength, 2, zigZag: true);
            var x = new[] { 4, 4, 4 }.Select((h, i) => Tensor.Randn([2, shards.LocalLength(world.Rank), h, 16], new Generator((ulong)(20 + i)), requiresGrad: true)).ToArray();
            var ring = new RingAttention(world, zigZag: true);
            var recorded = ring.Forward(x[0], x[1], x[2], spec);
            Tensor plain;
            using (Autograd.NoGrad())
                plain = ring.Forward(x[0], x[1], x[2], spec);
            Assert.True(recorded.RequiresGrad);
            Assert.False(plain.RequiresGrad);
            Assert.Equal(recorded.ToFloatArray(), plain.ToFloatArray());
        });
    }

    [Fact]
    public void TheMergeOfPartsCannotOverflow()
    {
        // The ring merges through the backend's AttentionMerge: log-sum-exps far past e^88 (float's limit) merge as
        // weights e^(lse_part − lse), and a part that saw no key (−∞) weighs nothing.
        using var scope = new DisposeScope();
        float[] lseA = [1000f, 1000f, float.NegativeInfinity], lseB = [999f, float.NegativeInfinity, float.NegativeInfinity];
        var oA = Tensor.Full([1, 3, 1, 2], 1.0);
        var oB = Tensor.Full([1, 3, 1, 2], 3.0);
        var o = Tensor.Empty([1, 3, 1, 2]);
        var lse = Tensor.Empty([1, 1, 3]);
        Device.Cpu.Backend.AttentionMerge(o, lse, oA, Tensor.FromArray(lseA, [1, 1, 3]), oB, Tensor.FromArray(lseB, [1, 1, 3]));
        double wB = 1 / (1 + Math.E);
        Assert.Equal([(float)(1000 + Math.Log(1 + 1 / Math.E)), 1000f, float.NegativeInfinity], lse.ToFloatArray(), (a, b) => Math.Abs(a - b) <= 1e-4 || a == b);
        Assert.Equal([(float)(1 + 2 * wB), (float)(1 + 2 * wB), 1f, 1f, 0f, 0f], o.ToFloatArray(), (a, b) => Math.Abs(a - b) <= 1e-6);
    }

    [Theory]
    [InlineData(false, new[] { 1, 2, 3, 4 })]
    [InlineData(true, new[] { 9, 9, 9, 9 })]
    public void CausalSkipsKeyBlocksInTheFutureAndZigZagBalancesTheWork(bool zigZag, int[] pairs)
    {
        // Plain: rank r's queries see blocks 0..r. Zig-zag: blocks r and 7 − r see r + 1 and 8 − r blocks, 9 in all.
        var work = Run(4, zigZag, new AttentionSpec { RowLength = 16 }, B: 1);
        Assert.Equal(pairs, work.Select(w => w.Forward));
        Assert.Equal(pairs, work.Select(w => w.Backward));
    }

    [Fact]
    public void PackedSamplesSkipBlocksOfOtherSamples()
    {
        // Samples start at each rank's first position in both rows: rank 1 sees none of rank 0's keys.
        using var starts = PackedStarts.Of([0, 8, 16, 24], 2 * 16);
        var work = Run(2, zigZag: false, new AttentionSpec { RowLength = 16, SequenceStarts = starts }, B: 2);
        Assert.Equal([1, 1], work.Select(w => w.Forward));
        Assert.Equal([1, 1], work.Select(w => w.Backward));
    }

    [Fact]
    public void S2GroupsSkipBlocksOutsideEveryHeadsGroup()
    {
        // Groups of 4 in blocks of 4: the unshifted half sees only its own block, the shifted half (groups [2, 6), [6, 10), …)
        // the block before too; nothing sees two blocks back.
        var work = Run(4, zigZag: false, new AttentionSpec { RowLength = 16, GroupSize = 4 }, B: 1);
        Assert.Equal([1, 2, 2, 2], work.Select(w => w.Forward));
    }

    [Fact]
    public void ARowLengthOfZeroIsRefused()
    {
        var e = Refused(2, _ => ([1, 4, 2, 8], [1, 4, 2, 8]), new AttentionSpec());
        Assert.Contains("AttentionSpec.RowLength must be the whole row's length (the tokens of all 2 ranks), got 0", e.Message);
    }

    [Fact]
    public void AKvCacheCallIsRefused()
    {
        var e = Refused(2, _ => ([1, 1, 2, 8], [1, 6, 2, 8]), new AttentionSpec { RowLength = 12, QueryStart = 5 });
        Assert.Contains("q has 1 tokens from QueryStart 5 and k 6 from KeyStart 0; a call with a KV cache runs with LocalAttention", e.Message);
    }

    [Fact]
    public void AShareOfTheWrongLengthIsRefused()
    {
        // 10 positions in 4 zig-zag blocks of 2, 3, 2, 3: rank 0 holds blocks 0 and 3, 5 positions.
        var e = Refused(2, _ => ([1, 4, 2, 8], [1, 4, 2, 8]), new AttentionSpec { RowLength = 10 }, zigZag: true);
        Assert.Contains("rank 0 of 2 holds 5 positions of a row of 10 (blocks 0 and 3 of 4), but q has 4", e.Message);
    }

    [Fact]
    public void ARowTooShortForItsBlocksIsRefused()
    {
        var e = Refused(2, _ => ([1, 1, 2, 8], [1, 1, 2, 8]), new AttentionSpec { RowLength = 3 }, zigZag: true);
        Assert.Contains("a row of 3 positions cannot be cut into 4 blocks (2 ranks, zig-zag)", e.Message);
    }

    [Fact]
    public void KeysOfAnotherHeadDimAreRefused()
    {
        var e = Refused(2, _ => ([1, 4, 2, 8], [1, 4, 2, 4]), new AttentionSpec { RowLength = 8 });
        Assert.Contains("k and v must have q's batch and head dim", e.Message);
    }

    /// <summary>Runs forward and backward of random q, k, v under <paramref name="spec"/>; each rank's pair counts.</summary>
    private static RingWork[] Run(int ranks, bool zigZag, AttentionSpec spec, int B)
    {
        var work = new ConcurrentDictionary<int, RingWork>();
        ThreadGroup.Run(ranks, world =>
        {
            using var scope = new DisposeScope();
            int local = new SequenceShards(spec.RowLength, ranks, zigZag).LocalLength(world.Rank);
            var q = Tensor.Randn([B, local, 4, 8], new Generator(10), requiresGrad: true);
            var k = Tensor.Randn([B, local, 2, 8], new Generator(11), requiresGrad: true);
            var v = Tensor.Randn([B, local, 2, 8], new Generator(12), requiresGrad: true);
            var ring = new RingAttention(world, zigZag);
            ring.Forward(q, k, v, spec).Backward(Tensor.Ones([B, local, 4, 8]));
            work[world.Rank] = ring.Work;
        });
        return Enumerable.Range(0, ranks).Select(r => work[r]).ToArray();
    }

    /// <summary>Rank 0's exception, when every rank is refused q and k, v of the shapes <paramref name="shapes"/> gives it.</summary>
    private static ArgumentException Refused(int ranks, Func<int, (int[] Q, int[] Kv)> shapes, AttentionSpec spec, bool zigZag = false)
    {
        var errors = new ConcurrentDictionary<int, ArgumentException>();
        ThreadGroup.Run(ranks, world =>
        {
            using var scope = new DisposeScope();
            var (qShape, kvShape) = shapes(world.Rank);
            var ring = new RingAttention(world, zigZag);
            errors[world.Rank] = Assert.ThrowsAny<ArgumentException>(() => ring.Forward(Tensor.Zeros(qShape), Tensor.Zeros(kvShape), Tensor.Zeros(kvShape), spec));
        });
        Assert.Equal(ranks, errors.Count);
        return errors[0];
    }
}
