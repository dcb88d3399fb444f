using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Adapters on a CausalLM: initialisation, merge / unmerge, several named adapters, dropout, bad configs.</summary>
public class LoraModelTests
{
    private static readonly long[] Ids = [1, 17, 250, 3, 99, 42, 7, 123, 5, 64, 200, 11];

    private static float[] Logits(CausalLM model)
    {
        using var scope = new DisposeScope();
        using var noGrad = Autograd.NoGrad();
        return model.Forward(Tensor.FromArray(Ids, [1, Ids.Length])).ToFloatArray();
    }

    [Fact]
    public void A_new_adapter_is_PEFTs_init_and_changes_nothing()
    {
        using var model = CausalLM.Load(CausalLMTests.Dir("llama-gqa-tiny"));
        var before = Logits(model);
        model.AddAdapter("default", new LoraConfig { R = 4, UseDora = true }, seed: 3);
        Assert.Equal(before, Logits(model));
        var adapter = model.Layers[1].SelfAttn.VProj.Adapters["default"];
        float bound = 1f / MathF.Sqrt(64);
        var a = adapter.A.ToFloatArray();
        Assert.Equal([4, 64], adapter.A.ShapeArray);
        Assert.All(a, x => Assert.InRange(x, -bound, bound));
        Assert.True(a.Max() > 0.8f * bound && a.Min() < -0.8f * bound, "A should fill its kaiming-uniform range");
        Assert.All(adapter.B.ToFloatArray(), x => Assert.Equal(0f, x));
        Assert.Equal(4f, adapter.Scale); // alpha 16 / r 4
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Merged_logits_equal_adapter_logits_and_unmerge_restores_the_weights(bool dora)
    {
        using var f = new LoraFixture(dora ? "llama-gqa-dora" : "llama-gqa");
        var model = f.Model;
        var weightsBefore = model.LinearLayers().ToDictionary(l => l.Key, l => l.Layer.Weight.ToFloatArray());
        var adapted = Logits(model);
        model.MergeAdapter();
        Assert.All(model.LinearLayers(), l => Assert.Equal(l.Layer.Adapters.Count > 0 ? "default" : null, l.Layer.MergedAdapter));
        CausalLMTests.AssertRelative(adapted, Logits(model), 1e-5);
        model.UnmergeAdapter();
        foreach (var (key, layer) in model.LinearLayers())
            CausalLMTests.AssertRelative(weightsBefore[key], layer.Weight.ToFloatArray(), 1e-6);
        CausalLMTests.AssertRelative(adapted, Logits(model), 1e-5);
    }

    [Fact]
    public void Named_adapters_switch_and_only_the_active_one_trains()
    {
        using var model = CausalLM.Load(CausalLMTests.Dir("qwen2-tiny"));
        var bare = Logits(model);
        model.AddAdapter("short", new LoraConfig(), seed: 1);
        model.AddAdapter("long", new LoraConfig { TargetModules = [LoraConfig.AllLinear], ModulesToSave = LoraConfig.EmbeddingAndNorms }, seed: 2);
        Assert.Equal("long", model.ActiveAdapter);
        foreach (var (_, layer) in model.LinearLayers())
            foreach (var (_, a) in layer.Adapters)
                a.B.Fill(0.01);
        var longLogits = Logits(model);
        Assert.Equal(2 * 7 * 2 + 1 + 2 * 2 + 1, model.TrainableParameters().Count); // A, B of 7 layers × 2 blocks; embedding; 4 norms + final
        model.SetActiveAdapter("short");
        var shortLogits = Logits(model);
        Assert.NotEqual(longLogits, shortLogits);
        Assert.Equal(2 * 4 * 2, model.TrainableParameters().Count);
        model.SetActiveAdapter(null);
        Assert.Equal(bare, Logits(model));
        Assert.Empty(model.TrainableParameters());
        model.SetActiveAdapter("long");
        Assert.Equal(longLogits, Logits(model));
        model.DeleteAdapter("long");
        Assert.Null(model.ActiveAdapter);
        Assert.DoesNotContain(model.NamedParameters(), p => p.Name.Contains(".long."));
        Assert.Equal(["short"], model.AdapterNames);
    }

    [Fact]
    public void Dropout_acts_in_training_mode_only()
    {
        using var model = CausalLM.Load(CausalLMTests.Dir("llama-gqa-tiny"));
        model.AddAdapter("default", new LoraConfig { Dropout = 0.5f }, seed: 1);
        foreach (var (_, layer) in model.LinearLayers())
            foreach (var (_, a) in layer.Adapters)
                a.B.Fill(0.05);
        var eval = Logits(model);
        Assert.Equal(eval, Logits(model));
        model.Train();
        Assert.NotEqual(eval, Logits(model));
        model.Eval();
        Assert.Equal(eval, Logits(model));
    }

    [Fact]
    public void Bad_configs_say_what_is_wrong()
    {
        using var model = CausalLM.Load(CausalLMTests.Dir("llama-gqa-tiny"));
        Assert.Contains("r must be at least 1, got 0", Assert.Throws<ArgumentException>(() => model.AddAdapter("a", new LoraConfig { R = 0 }, 0)).Message);
        Assert.Contains("lora_dropout must be in [0, 1), got 1", Assert.Throws<ArgumentException>(() => model.AddAdapter("a", new LoraConfig { Dropout = 1 }, 0)).Message);
        var e = Assert.Throws<ArgumentException>(() => model.AddAdapter("a", new LoraConfig { TargetModules = ["qkv_proj"] }, 0));
        Assert.Contains("match no linear layer", e.Message);
        Assert.Contains("q_proj", e.Message);
        Assert.Contains("matches no embedding or norm", Assert.Throws<ArgumentException>(() => model.AddAdapter("a", new LoraConfig { ModulesToSave = ["lm_head"] }, 0)).Message);
        model.AddAdapter("a", new LoraConfig(), 0);
        Assert.Contains("exists already", Assert.Throws<ArgumentException>(() => model.AddAdapter("a", new LoraConfig(), 0)).Message);
        Assert.Contains("no adapter named 'b'", Assert.Throws<KeyNotFoundException>(() => model.SetActiveAdapter("b")).Message);
    }

    [Fact]
    public void RsLora_scales_by_alpha_over_the_root_of_r()
    {
        Assert.Equal(2.0, new LoraConfig { R = 8, Alpha = 16 }.Scale);
        Assert.Equal(16 / Math.Sqrt(8), new LoraConfig { R = 8, Alpha = 16, UseRsLora = true }.Scale, 12);
    }
}
