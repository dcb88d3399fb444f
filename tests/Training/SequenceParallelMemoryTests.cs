using RawLongLoRA.Distributed;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>What Ulysses and Ring add to a rank's memory, against counts done by hand.</summary>
public class SequenceParallelMemoryTests
{
    /// <summary>StepTrafficTests' tiny model on a row of 64 tokens.</summary>
    private static StepShape Tiny(SequenceParallel kind, int sp, bool checkpointing) => StepTrafficTests.Tiny(kind, sp, checkpointing: checkpointing, tokens: 64);

    [Fact]
    public void UlyssesKeepsHeadShardsAndRingItsBlocksInFlight()
    {
        // Ulysses on 2 ranks: q, o of 4 heads and k, v of 2, 16 values each: 16 · (8 + 4) a token, kept and in flight.
        Assert.Equal(192, SequenceParallelMemory.LayerValues(Tiny(SequenceParallel.Ulysses, 2, true)));
        Assert.Equal(192, SequenceParallelMemory.AttentionBackwardValues(Tiny(SequenceParallel.Ulysses, 2, true)));
        // On 4 ranks the 2 KV heads are replicated to 4: 16 · (8 + 8).
        Assert.Equal(256, SequenceParallelMemory.LayerValues(Tiny(SequenceParallel.Ulysses, 4, true)));
        // Ring: two K, V, dK and dV blocks of 2 heads of 16: 8 · 2 · 16 a token, only while attention runs backward.
        Assert.Equal(0, SequenceParallelMemory.LayerValues(Tiny(SequenceParallel.Ring, 2, true)));
        Assert.Equal(256, SequenceParallelMemory.AttentionBackwardValues(Tiny(SequenceParallel.Ring, 2, true)));
        Assert.Equal(0, SequenceParallelMemory.AttentionBackwardValues(Tiny(SequenceParallel.Ulysses, 1, true)));
    }

    [Fact]
    public void WithoutCheckpointingEveryLayerKeepsUlyssesHeadShards()
    {
        var ring = StepMemory.Estimate(Tiny(SequenceParallel.Ring, 2, false));
        var ulysses = StepMemory.Estimate(Tiny(SequenceParallel.Ulysses, 2, false));
        Assert.Equal("backward through attention", ulysses.PeakIn);
        Assert.Equal(ring.PeakIn, ulysses.PeakIn);
        // 32 tokens a rank, 2 layers, 192 values, float32.
        Assert.Equal(4L * 32 * 2 * 192, ulysses.Activations - ring.Activations);
    }

    [Fact]
    public void UlyssesAttendsOverTheWholeRowForItsHeads()
    {
        var s = Tiny(SequenceParallel.Ulysses, 2, true);
        Assert.Equal(RawLongLoRA.Kernels.Cpu.Attention.BackwardWorkspaceBytes(1, 64, 64, 2, 1, 16, 3), SequenceParallelMemory.Workspace(s, 3));
        Assert.Equal(RawLongLoRA.Kernels.Cpu.Attention.BackwardWorkspaceBytes(1, 32, 32, 4, 2, 16, 3), SequenceParallelMemory.Workspace(s with { SequenceKind = SequenceParallel.Ring }, 3));
    }
}
