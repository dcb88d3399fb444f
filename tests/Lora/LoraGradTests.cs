using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// LoRA, rsLoRA and DoRA on the tiny Llama (GQA), Qwen2 (tied embedding, biases) and Qwen3 (q/k
/// norm, YaRN) models, with and without S2-Attn and LongLoRA's trainable embedding and norms:
/// the loss and every trainable gradient against PyTorch (tests/reference/make_lora.py). In parallel:
/// the tests that change the CPU thread count run in SerialCollection, never beside this one, and no
/// dropout draws from Generator.Default here.
/// </summary>
public class LoraGradTests
{
    public static TheoryData<string> Cases => LoraFixture.Cases;

    [Theory, MemberData(nameof(Cases))]
    public void Loss_and_every_trainable_gradient_match_PyTorch(string name)
    {
        using var f = new LoraFixture(name);
        using var scope = new DisposeScope();
        var loss = f.ComputeLoss();
        Assert.Equal(f.Loss, loss.ToFloatArray()[0], 1e-4 * f.Loss);
        loss.Backward();
        var trainable = f.Model.TrainableParameters();
        Assert.NotEmpty(trainable);
        foreach (var (param, tensor) in trainable)
        {
            Assert.True(tensor.Grad is not null, $"{param} got no gradient");
            CausalLMTests.AssertRelative(f.ExpectedGrad(param), tensor.Grad!.ToFloatArray(), 1e-4);
        }
    }

    [Theory, MemberData(nameof(Cases))]
    public void Checkpointed_layers_give_the_same_gradients(string name)
    {
        var plain = Gradients(name, checkpointing: false);
        var recomputed = Gradients(name, checkpointing: true);
        Assert.Equal(plain.Keys, recomputed.Keys);
        foreach (var (param, grad) in plain)
            Assert.True(grad.SequenceEqual(recomputed[param]), $"{param}: checkpointing changed the gradient");
    }

    [Fact]
    public void Only_the_adapter_and_the_saved_modules_want_gradients()
    {
        using var f = new LoraFixture("qwen3-s2-all-linear");
        var names = f.Model.TrainableParameters().Select(p => p.Name).ToList();
        Assert.Equal(14 * 2 + 10, names.Count);
        Assert.All(names, n => Assert.True(n.Contains(".lora_") || n.EndsWith("norm.weight") || n == "model.embed_tokens.weight", n));
        Assert.DoesNotContain(f.Model.NamedParameters(), p => p.Name.EndsWith("proj.weight") && p.Tensor.RequiresGrad);
        using var scope = new DisposeScope();
        f.ComputeLoss().Backward();
        Assert.All(f.Model.NamedParameters().Where(p => !p.Tensor.RequiresGrad), p => Assert.Null(p.Tensor.Grad));
    }

    private static Dictionary<string, float[]> Gradients(string name, bool checkpointing)
    {
        using var f = new LoraFixture(name);
        f.Model.GradientCheckpointing = checkpointing;
        using var scope = new DisposeScope();
        f.ComputeLoss().Backward();
        return f.Model.TrainableParameters().ToDictionary(p => p.Name, p => p.Tensor.Grad!.ToFloatArray());
    }
}
