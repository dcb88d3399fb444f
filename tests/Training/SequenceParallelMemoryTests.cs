using RawLongLoRA.Distributed;
using RawLongLoRA.Model;
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

    [Fact]
    public void MoreThanOneRankKeepsGradientBucketsOfTheTrainedTensors()
    {
        var shape = Tiny(SequenceParallel.None, 1, true);
        var counts = new ParameterCounts(shape.Config, shape.Lora);
        long single = StepMemory.Estimate(shape).TrainedState;
        // Every trained tensor of the tiny model is smaller than a bucket: each has a float32 copy in one.
        Assert.Equal(4 * counts.Trained, StepMemory.Estimate(Tiny(SequenceParallel.Ring, 2, true)).TrainedState - single);
        Assert.Equal(4 * counts.Trained, StepMemory.Estimate(shape with { DataParallel = 2 }).TrainedState - single);
        // A trained embedding of a bucket's size or more is reduced in place: no copy of it.
        var wide = shape with { Config = StepMemoryTests.Config(64, 128, 2, 1 << 17), Lora = new LoraConfig { ModulesToSave = ["embed_tokens"] } };
        var wideCounts = new ParameterCounts(wide.Config, wide.Lora);
        Assert.True(wideCounts.EmbeddingTrained && 4 * wideCounts.Embedding >= DataParallel.DefaultBucketBytes);
        Assert.Equal(4 * (wideCounts.Trained - wideCounts.Embedding),
                     StepMemory.Estimate(wide with { DataParallel = 2 }).TrainedState - StepMemory.Estimate(wide).TrainedState);
    }
}
