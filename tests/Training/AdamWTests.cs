using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>AdamW's bookkeeping: resume from exported state, gradients skipped and dropped, decay selection, bad state.</summary>
public class AdamWTests
{
    private static List<(string Name, Tensor Param)> Params(int seed) =>
    [
        ("layers.0.lora_A.weight", Tensor.Randn([8, 19], new Generator((ulong)seed))),
        ("norm.weight", Tensor.Randn([19], new Generator((ulong)seed + 1))),
    ];

    private static void SetGrads(List<(string Name, Tensor Param)> ps, int step)
    {
        foreach (var (i, (_, p)) in ps.Index())
            p.Grad = Tensor.Randn(p.ShapeArray, new Generator((ulong)(100 * step + i)));
    }

    private static readonly AdamWOptions Options = new() { WeightDecay = 0.05, Decays = AdamWOptions.MatricesOnly };

    [Fact]
    public void ResumedStateContinuesBitwise()
    {
        using var scope = new DisposeScope();
        var straight = Params(1);
        using var a = new AdamW(straight, Options);
        for (int step = 0; step < 3; step++)
        {
            SetGrads(straight, step);
            a.Step(1e-2f * (step + 1));
            a.ZeroGrad();
        }

        var resumed = Params(1);
        using (var first = new AdamW(resumed, Options))
            for (int step = 0; step < 2; step++)
            {
                SetGrads(resumed, step);
                first.Step(1e-2f * (step + 1));
                first.ZeroGrad();
                if (step == 1)
                {
                    var state = first.ExportState();
                    using var second = new AdamW(resumed, Options);
                    second.ImportState(state);
                    foreach (var (_, t) in state)
                        t.Dispose();
                    SetGrads(resumed, 2);
                    second.Step(3e-2f);
                    second.ZeroGrad();
                }
            }

        foreach (var ((_, x), (_, y)) in straight.Zip(resumed))
            Assert.Equal(x.ToFloatArray(), y.ToFloatArray());
    }

    [Fact]
    public void ExportedStateHasTorchNamesAndSurvivesTheCallerDisposingIt()
    {
        using var scope = new DisposeScope();
        var ps = Params(2);
        using var opt = new AdamW(ps);
        SetGrads(ps, 0);
        ps[1].Param.Grad = null;
        opt.Step();
        var state = opt.ExportState();
        Assert.Equal(["layers.0.lora_A.weight.exp_avg", "layers.0.lora_A.weight.exp_avg_sq", "layers.0.lora_A.weight.step"], state.Select(e => e.Name));
        Assert.Equal([1L], state[2].Tensor.ToArray<long>());
        foreach (var (_, t) in state)
            t.Dispose();
        opt.Step();
        Assert.Equal([2L], opt.ExportState()[2].Tensor.ToArray<long>());
    }

    [Fact]
    public void ParameterWithoutGradientIsLeftAlone()
    {
        using var scope = new DisposeScope();
        var ps = Params(3);
        var before = ps[1].Param.ToFloatArray();
        using var opt = new AdamW(ps, new AdamWOptions { WeightDecay = 0.5 });
        SetGrads(ps, 0);
        ps[1].Param.Grad = null;
        opt.Step(0.1f);
        Assert.Equal(before, ps[1].Param.ToFloatArray());
    }

    [Fact]
    public void DecayPredicateSparesOneDimensionalParameters()
    {
        using var scope = new DisposeScope();
        var ps = Params(4);
        var before = ps.Select(p => p.Param.ToFloatArray()).ToList();
        using var opt = new AdamW(ps, Options with { WeightDecay = 0.5 });
        foreach (var (_, p) in ps)
            p.Grad = Tensor.Zeros(p.ShapeArray);
        opt.Step(0.1f);
        // A zero gradient leaves only the decay: p·(1 − 0.05) for the matrix, nothing for the norm weight.
        Assert.Equal(before[0].Select(x => x * (float)(1 - 0.1f * 0.5)), ps[0].Param.ToFloatArray());
        Assert.Equal(before[1], ps[1].Param.ToFloatArray());
    }

    [Fact]
    public void ZeroGradDisposesAndClearsGradients()
    {
        using var scope = new DisposeScope();
        var ps = Params(5);
        SetGrads(ps, 0);
        var grads = ps.Select(p => p.Param.Grad!).ToList();
        using var opt = new AdamW(ps);
        opt.ZeroGrad();
        Assert.All(ps, p => Assert.Null(p.Param.Grad));
        Assert.All(grads, g => Assert.True(g.IsDisposed));
    }

    [Fact]
    public void BadStateAndParametersThrowNamingThem()
    {
        using var scope = new DisposeScope();
        var ps = Params(6);
        using var opt = new AdamW(ps);
        var wrongShape = new[] { ("norm.weight.exp_avg", Tensor.Zeros([18])), ("norm.weight.exp_avg_sq", Tensor.Zeros([19])), ("norm.weight.step", Tensor.FromArray(new long[] { 1 }, [])) };
        Assert.Contains("norm.weight.exp_avg", Assert.Throws<ArgumentException>(() => opt.ImportState(wrongShape)).Message);
        Assert.Contains("lm_head", Assert.Throws<ArgumentException>(() => opt.ImportState([("lm_head.exp_avg", Tensor.Zeros([1]))])).Message);
        Assert.Contains("needs all of", Assert.Throws<ArgumentException>(() => opt.ImportState([("norm.weight.exp_avg", Tensor.Zeros([19]))])).Message);
        Assert.Contains("none of", Assert.Throws<ArgumentException>(() => opt.ImportState([("norm.weight.momentum", Tensor.Zeros([19]))])).Message);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => new AdamW([ps[0], ps[0]])).Message);
        Assert.Contains("float32", Assert.Throws<ArgumentException>(() => new AdamW([("x", Tensor.Zeros([2], DType.BF16))])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(ps, new AdamWOptions { Beta2 = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => opt.Step(float.NaN));
    }

    [Theory]
    [InlineData("model.layers.0.self_attn.q_proj.lora_A.default.weight", true)]
    [InlineData("model.layers.0.mlp.down_proj.weight", true)]
    [InlineData("lm_head.weight", true)]
    [InlineData("model.layers.0.self_attn.q_proj.bias", false)]
    [InlineData("model.layers.0.input_layernorm.weight", false)]
    [InlineData("model.layers.0.post_attention_layernorm.weight", false)]
    [InlineData("model.layers.0.self_attn.q_norm.weight", false)]
    [InlineData("model.norm.weight", false)]
    [InlineData("model.embed_tokens.weight", false)]
    public void The_trainers_decay_rule_spares_biases_norms_and_the_embedding_by_name(string name, bool decays)
    {
        using var p = Tensor.Zeros([2, 2]);
        Assert.Equal(decays, AdamWOptions.ExceptBiasesNormsEmbedding(name, p));
    }
}
