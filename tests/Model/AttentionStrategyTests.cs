using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// A model's attention strategy: every layer takes it, and blockwise attention over position blocks (zig-zag,
/// as Ring will) gives the logits of one call — PyTorch's, and ours under the training masks.
/// </summary>
public class AttentionStrategyTests
{
    [Fact]
    public void EveryLayerTakesTheModelsStrategy()
    {
        using var model = CausalLM.Load(CausalLMTests.Dir("llama-gqa-tiny"));
        Assert.Same(LocalAttention.Instance, model.AttentionStrategy);
        var blockwise = new BlockwiseAttention(4, zigZag: true);
        model.AttentionStrategy = blockwise;
        Assert.All(model.Layers, layer => Assert.Same(blockwise, layer.SelfAttn.Strategy));
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(3, true)]
    public void BadBlockCountsThrowNamingThem(int blocks, bool zigZag)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new BlockwiseAttention(blocks, zigZag));
        Assert.Contains($"blocks must be at least 1 (and even for zig-zag), got {blocks}", e.Message);
    }

    [Fact]
    public void ZigZagBlocksGivePyTorchsLogits()
    {
        using var scope = new DisposeScope();
        using var model = CausalLM.Load(CausalLMTests.Dir("llama-gqa-tiny"));
        model.AttentionStrategy = new BlockwiseAttention(4, zigZag: true);
        using var f = SafeTensorsCheckpoint.Open(Path.Combine(CausalLMTests.Dir("llama-gqa-tiny"), "expected.safetensors"));
        var ids = f.Load("input_ids");
        var logits = model.Forward(ids);
        CausalLMTests.AssertRelative(f.Load("logits").ToFloatArray(), logits.ToFloatArray(), 1e-4);
    }

    [Theory]
    [InlineData(4, true)]
    [InlineData(3, false)]
    public void BlocksGiveOneCallsLogitsUnderTrainingMasks(int blocks, bool zigZag)
    {
        using var scope = new DisposeScope();
        using var model = CausalLM.Load(CausalLMTests.Dir("llama-gqa-tiny"));
        var rng = new Random(3);
        var ids = Tensor.FromArray(Enumerable.Range(0, 2 * 48).Select(_ => (long)rng.Next(300)).ToArray(), [2, 48]);
        var spec = new AttentionSpec { GroupSize = 12, SequenceStarts = PackedStarts.Of([0, 17, 48, 80], 2 * 48) };
        var expected = model.Forward(ids, spec: spec).ToFloatArray();
        model.AttentionStrategy = new BlockwiseAttention(blocks, zigZag);
        CausalLMTests.AssertRelative(expected, model.Forward(ids, spec: spec).ToFloatArray(), 1e-5);
    }
}
