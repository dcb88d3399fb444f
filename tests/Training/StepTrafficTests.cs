using RawLongLoRA.Distributed;
using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The bytes a rank sends in a step, against counts done by hand.</summary>
public class StepTrafficTests
{
    /// <summary>hidden 64, 4 heads of 16 (2 kv), 2 layers; r 8 on q,k,v,o and nothing else trained; one row of 16 tokens.</summary>
    internal static StepShape Tiny(SequenceParallel kind, int sp, int dp = 1, bool checkpointing = true, int tokens = 16) => new()
    {
        Config = StepMemoryTests.Config(64, 128, 2, 100),
        Lora = new LoraConfig(),
        Tokens = tokens,
        GradientCheckpointing = checkpointing,
        SequenceKind = kind,
        SequenceParallel = sp,
        DataParallel = dp,
    };

    [Fact]
    public void UlyssesMovesQkvAndOThroughAllToAlls()
    {
        // 2 ranks hold 8 tokens: one head's block is 8 · 16 · 4 B = 512 B; q, o have 4 heads, k, v 2; half stays home.
        var t = StepTraffic.Of(Tiny(SequenceParallel.Ulysses, 2));
        Assert.Equal(2 * 0.5 * 512 * (4 + 4 + 2 + 2), t.Forward);
        Assert.Equal(6144, t.Backward);
        Assert.Equal(6144, t.Recompute);
        // The two ranks' gradients are partial sums (each saw half the tokens): all-reduced, 2 · 1/2 of 28,672 B (below).
        Assert.Equal(28_672, t.Gradients);
    }

    [Fact]
    public void UlyssesWithMoreRanksThanKvHeadsSendsTheReplicas()
    {
        // 4 ranks hold 4 tokens (256 B a head); the 2 KV heads are replicated to 4, so k and v move 4 heads' worth each.
        var t = StepTraffic.Of(Tiny(SequenceParallel.Ulysses, 4));
        Assert.Equal(2 * 0.75 * 256 * (4 + 4 + 4 + 4), t.Forward);
    }

    [Fact]
    public void RingSendsKvBlocksAroundAndDkDvHome()
    {
        // 2 ranks: K and V blocks of 2 heads, 2 · 2 · 512 B = 2 KiB a hop; 1 hop forward, 1 + 2 backward (dK, dV go home).
        var two = StepTraffic.Of(Tiny(SequenceParallel.Ring, 2));
        Assert.Equal(2 * 2048, two.Forward);
        Assert.Equal(2 * 3 * 2048, two.Backward);
        Assert.Equal(2 * 2048, two.Recompute);
        // 4 ranks: 1 KiB a hop; 3 hops forward, 3 + 4 backward.
        var four = StepTraffic.Of(Tiny(SequenceParallel.Ring, 4, checkpointing: false));
        Assert.Equal(2 * 3 * 1024, four.Forward);
        Assert.Equal(2 * 7 * 1024, four.Backward);
        Assert.Equal(0, four.Recompute);
        Assert.Equal(four.Forward + four.Backward + 2 * 0.75 * 28_672, four.Total);
    }

    [Fact]
    public void GradientsAreAllReducedOverEveryRankDataAndSequenceParallel()
    {
        // r 8 · (64 + 64 + 2 · (64 + 32) + 64 + 64) = 3,584 values a layer, 2 layers, float32: 28,672 B; a ring all-reduce
        // over 2 × 2 = 4 ranks sends 2 · 3/4 of it.
        var t = StepTraffic.Of(Tiny(SequenceParallel.Ring, 2, dp: 2));
        Assert.Equal(2 * 0.75 * 28_672, t.Gradients);
        Assert.Equal(2 * 0.5 * 28_672, StepTraffic.Of(Tiny(SequenceParallel.None, 1, dp: 2)).Gradients);
        Assert.Equal(0, StepTraffic.Of(Tiny(SequenceParallel.None, 1)).Total);
    }
}
