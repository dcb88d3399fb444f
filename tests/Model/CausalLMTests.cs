using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Tiny Llama (GQA), Qwen2 (biases, tied embeddings) and Qwen3 (q/k norm, YaRN) folders made by
/// PyTorch (tests/reference/make_models.py): our logits and greedy tokens against PyTorch's.
/// </summary>
public class CausalLMTests
{
    public static TheoryData<string> Models => ["llama-gqa-tiny", "qwen2-tiny", "qwen3-tiny-yarn", "llama-gqa-tiny-bf16"];

    internal static string Dir(string name) => Path.Combine(AppContext.BaseDirectory, "reference", "models", name);

    private static (long[] Ids, float[] Logits, int[] Shape, long[] Greedy) Expected(string name)
    {
        using var f = SafeTensorsCheckpoint.Open(Path.Combine(Dir(name), "expected.safetensors"));
        using var ids = f.Load("input_ids");
        using var logits = f.Load("logits");
        using var greedy = f.Load("greedy");
        return (ids.ToArray<long>(), logits.ToFloatArray(), logits.ShapeArray, greedy.ToArray<long>());
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void LogitsMatchPyTorch(string name)
    {
        using var scope = new DisposeScope();
        using var model = CausalLM.Load(Dir(name));
        var (ids, expected, shape, _) = Expected(name);
        var logits = model.Forward(Tensor.FromArray(ids, [1, ids.Length]));
        Assert.Equal(shape, logits.ShapeArray);
        AssertRelative(expected, logits.ToFloatArray(), 1e-4);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void GreedyTokensMatchPyTorch(string name)
    {
        using var model = CausalLM.Load(Dir(name));
        var (ids, _, _, greedy) = Expected(name);
        var streamed = new List<int>();
        var tokens = TextGeneration.Generate(model, ids.Select(i => (int)i).ToArray(), new SamplingOptions { MaxNewTokens = greedy.Length }, streamed.Add);
        Assert.Equal(greedy.Select(i => (int)i), tokens);
        Assert.Equal(tokens, streamed);
    }

    [Fact]
    public void Bf16WeightsComputeLikeTheirFloat32Copies()
    {
        using var scope = new DisposeScope();
        using var kept = CausalLM.Load(Dir("llama-gqa-tiny-bf16"), weightDtype: DType.BF16);
        Assert.Equal(DType.BF16, kept.Layers[0].SelfAttn.QProj.Weight.DType);
        Assert.Equal(DType.F32, kept.Layers[0].InputLayerNorm.Weight.DType);
        var (ids, expected, _, _) = Expected("llama-gqa-tiny-bf16");
        AssertRelative(expected, kept.Forward(Tensor.FromArray(ids, [1, ids.Length])).ToFloatArray(), 1e-4);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void CachedStepsGiveTheFullForwardsLogits(string name)
    {
        using var scope = new DisposeScope();
        using var model = CausalLM.Load(Dir(name));
        var (ids, expected, shape, _) = Expected(name);
        using var noGrad = Autograd.NoGrad();
        using var cache = model.NewCache(1, ids.Length);
        int v = shape[^1], split = 5;
        var first = model.Forward(Tensor.FromArray(ids[..split], [1, split]), cache: cache).ToFloatArray();
        var rest = new List<float>(first);
        for (int i = split; i < ids.Length; i++)
            rest.AddRange(model.Forward(Tensor.FromArray([ids[i]], [1, 1]), cache: cache).ToFloatArray());
        Assert.Equal(ids.Length, cache.Length);
        Assert.Equal(ids.Length * v, rest.Count);
        AssertRelative(expected, [.. rest], 1e-4);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void ParametersCarryTheCheckpointsKeysAndShapes(string name)
    {
        using var model = CausalLM.Load(Dir(name));
        using var checkpoint = SafeTensorsCheckpoint.Open(Dir(name));
        var ours = model.NamedParameters().Select(p => $"{p.Name} {Shapes.Format(p.Tensor.Shape)}").Order(StringComparer.Ordinal).ToList();
        var theirs = checkpoint.Names.Select(n => $"{n} {Shapes.Format(checkpoint.Info(n).Shape)}").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(theirs, ours);
        var approved = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "reference", "models", name.Replace("-bf16", "") + ".parameters.txt"));
        Assert.Equal(approved, ours);
        var expected = CausalLM.ExpectedParameters(model.Config).Select(p => $"{p.Name} {Shapes.Format(p.Shape)}").Order(StringComparer.Ordinal);
        Assert.Equal(ours, expected);
    }

    internal static void AssertRelative(float[] expected, float[] actual, double tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(x => Math.Abs((double)x));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * scale, $"element {i}: {actual[i]} vs PyTorch {expected[i]} (scale {scale})");
    }
}
