using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The step's FLOP count against one done by hand, and how checkpointing and S2-Attn change it.</summary>
public class StepFlopsTests
{
    /// <summary>hidden 64, 4 heads of 16 (2 kv), MLP 128, 2 layers, vocabulary 100, untied; r 8 on q,k,v,o; 16 tokens, S2 groups of 4.</summary>
    private static StepShape Tiny(bool checkpointing, double groupRatio = 0.25) => new()
    {
        Config = StepMemoryTests.Config(64, 128, 2, 100),
        Lora = new LoraConfig { ModulesToSave = LoraConfig.EmbeddingAndNorms },
        Tokens = 16,
        GradientCheckpointing = checkpointing,
        GroupRatio = groupRatio,
    };

    [Fact]
    public void EachPartIsCountedAsByHand()
    {
        var flops = StepFlops.Of(Tiny(checkpointing: false));

        // Per layer 64·64 (q) + 2·64·32 (k, v) + 64·64 (o) + 3·64·128 (MLP) = 36,864 weights; forward + input gradient: 4 FLOPs each a token.
        Assert.Equal(4.0 * 2 * 36_864 * 16, flops.Linear);
        // The head: forward, the tiles remade in backward, the hidden states' gradient.
        Assert.Equal(6.0 * 100 * 64 * 16, flops.Head);
        // Adapters: r·(in + out) = 8·(128 + 96 + 96 + 128) a layer, 2 FLOPs each forward, twice that backward.
        Assert.Equal(2.0 * 8 * 2 * 448 * 16 * 3, flops.Adapters);
        // S2-Attn's groups of 4, 2·D FLOPs a causal pair forward, backward 2.5×: heads 0, 1 in [0, 4), [4, 8), … — 4 groups of
        // 4²/2 pairs; heads 2, 3 in [0, 2), [2, 6), [6, 10), [10, 14), [14, 16) — 3 groups of 4²/2 and 2 of 2²/2 pairs.
        Assert.Equal(2.0 * 16 * (2 * (4 * 8) + 2 * (3 * 8 + 2 * 2)) * 2 * 3.5, flops.Attention);
        Assert.Equal(flops.Linear + flops.Head + flops.Adapters + flops.Attention, flops.Total);
        // Done twice: the head's logits, remade in backward from the hidden states.
        Assert.Equal(2.0 * 100 * 64 * 16, flops.Recomputed);
        Assert.Equal(flops.Total - 2.0 * 100 * 64 * 16, flops.Model);
    }

    [Fact]
    public void CheckpointingAddsOneForwardOfTheLayersButNotOfTheHead()
    {
        StepFlops off = StepFlops.Of(Tiny(false)), on = StepFlops.Of(Tiny(true));

        Assert.Equal(off.Linear * 6 / 4, on.Linear);
        Assert.Equal(off.Adapters * 4 / 3, on.Adapters);
        Assert.Equal(off.Attention * 4.5 / 3.5, on.Attention);
        Assert.Equal(off.Head, on.Head);
        // Model FLOPs count nothing twice: the same with checkpointing as without.
        Assert.Equal(off.Model, on.Model, 1e-9 * off.Model);
    }

    [Fact]
    public void S2AttnWithQuarterGroupsCostsAQuarterOfFullCausalAttentionLessTheShiftedGroupsHalfEnds()
    {
        var tiny = Tiny(false);
        double full = StepFlops.Of(Tiny(false, groupRatio: 0)).Attention, s2 = StepFlops.Of(tiny).Attention;
        // Per layer, each of the 2 shifted heads attends G²/4 = 4 pairs fewer than a quarter of T²/2, at 2·D FLOPs a pair, × 3.5.
        Assert.Equal(full / 4 - 2 * 2 * 4 * (2.0 * 16) * 3.5, s2);
    }
}
