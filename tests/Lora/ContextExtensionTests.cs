using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Stretching a model's context by RoPE scaling, as LongLoRA's training script does.</summary>
public class ContextExtensionTests
{
    private static ModelConfig Llama => ModelConfig.Load(Path.Combine(CausalLMTests.Dir("llama-gqa-tiny"), "config.json"));

    [Fact]
    public void Linear_factor_is_the_rounded_up_ratio_and_the_context_follows()
    {
        var c = ContextExtension.Extend(Llama, 300);
        Assert.Equal(RopeType.Linear, c.Rope.Type);
        Assert.Equal(3.0, c.Rope.Factor);
        Assert.Equal(384, c.MaxPositionEmbeddings);
        Assert.Contains("\"rope_scaling\"", c.ToJson());
        Assert.Contains("\"factor\": 3", c.ToJson());
    }

    [Fact]
    public void Yarn_and_dynamic_take_the_exact_ratio()
    {
        var yarn = ContextExtension.Extend(Llama, 512, RopeType.Yarn);
        Assert.Equal((RopeType.Yarn, 4.0, 128, 512), (yarn.Rope.Type, yarn.Rope.Factor!.Value, yarn.Rope.OriginalMaxPositionEmbeddings!.Value, yarn.MaxPositionEmbeddings));
        var dynamic = ContextExtension.Extend(Llama, 320, RopeType.Dynamic);
        Assert.Equal((RopeType.Dynamic, 2.5, 128), (dynamic.Rope.Type, dynamic.Rope.Factor!.Value, dynamic.MaxPositionEmbeddings));
        Assert.Equal(320, ContextExtension.Reach(dynamic)); // transformers rescales past 128 by itself
        Assert.Same(dynamic, ContextExtension.Extend(dynamic, 300, RopeType.Dynamic));
    }

    [Fact]
    public void A_context_the_model_reaches_changes_nothing()
        => Assert.Same(Llama is var c ? c : null, ContextExtension.Extend(c, 128));

    [Fact]
    public void A_model_that_already_scales_or_an_unsupported_kind_is_refused()
    {
        var qwen3 = ModelConfig.Load(Path.Combine(CausalLMTests.Dir("qwen3-tiny-yarn"), "config.json"));
        Assert.Contains("already scales RoPE (yarn", Assert.Throws<ArgumentException>(() => ContextExtension.Extend(qwen3, 100_000)).Message);
        Assert.Contains("longrope", Assert.Throws<ArgumentException>(() => ContextExtension.Extend(Llama, 1000, RopeType.LongRope)).Message);
    }

    [Fact]
    public void An_extended_model_interpolates_its_positions()
    {
        using var scope = new DisposeScope();
        using var model = CausalLM.Load(CausalLMTests.Dir("llama-gqa-tiny"));
        var (cos, _) = model.Rope.For(8);
        int half = cos.Shape[1];
        float angle = MathF.Acos(cos.ToFloatArray()[2 * half + 1]); // position 2, the second frequency
        model.ExtendContext(256);
        Assert.Equal(256, model.Config.MaxPositionEmbeddings);
        var (stretched, _) = model.Rope.For(8);
        Assert.Equal(angle / 2, MathF.Acos(stretched.ToFloatArray()[2 * half + 1]), 5);
    }
}
