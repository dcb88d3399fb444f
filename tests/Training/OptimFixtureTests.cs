using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// AdamW, gradient clipping and the lr schedules against PyTorch / transformers
/// (tests/reference/optim.safetensors, made by tests/reference/make_optim.py): every value within 1e-6
/// of the reference, relative to the reference tensor's largest magnitude.
/// </summary>
public class OptimFixtureTests
{
    private static readonly SafeTensorsFile Fx = new(Path.Combine(AppContext.BaseDirectory, "reference", "optim.safetensors"));
    private static readonly string[] AdamWParams = ["w", "b", "e"];

    private static float[] Floats(string key)
    {
        using var t = Fx.Load(key);
        return t.ToFloatArray();
    }

    /// <summary>A float32 copy in ordinary memory, ours to update in place.</summary>
    private static Tensor Owned(string key) => Fx.Load(key, DType.F32);

    internal static void Near(float[] expected, float[] actual, string what, double tolerance = 1e-6)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(expected.Max(v => Math.Abs((double)v)), 1e-30);
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs((double)actual[i] - expected[i]) / scale;
            Assert.True(err <= tolerance, $"{what}[{i}]: {actual[i]:R} vs torch {expected[i]:R} (normalised error {err:E2})");
        }
    }

    [Fact]
    public void AdamWMatchesTorchStepByStep()
    {
        var lrs = Floats("adamw.lr");
        var ps = AdamWParams.Select(k => (Name: k, Param: Owned("adamw.init." + k))).ToList();
        using var opt = new AdamW(ps, new AdamWOptions { WeightDecay = 0.1, Decays = AdamWOptions.MatricesOnly });
        for (int s = 0; s < lrs.Length; s++)
        {
            foreach (var (k, p) in ps)
                p.Grad = Fx.Contains($"adamw.grad.{s}.{k}") ? Owned($"adamw.grad.{s}.{k}") : null;
            opt.Step(lrs[s]);
            opt.ZeroGrad();
            foreach (var (k, p) in ps)
                Near(Floats($"adamw.after.{s}.{k}"), p.ToFloatArray(), $"step {s} {k}");
        }

        var state = opt.ExportState().ToDictionary(e => e.Name, e => e.Tensor);
        foreach (var k in AdamWParams)
        {
            Near(Floats($"adamw.exp_avg.{k}"), state[k + ".exp_avg"].ToFloatArray(), k + ".exp_avg");
            Near(Floats($"adamw.exp_avg_sq.{k}"), state[k + ".exp_avg_sq"].ToFloatArray(), k + ".exp_avg_sq");
            using var step = Fx.Load("adamw.step." + k);
            Assert.Equal(step.ToArray<long>(), state[k + ".step"].ToArray<long>());
        }
        foreach (var t in state.Values)
            t.Dispose();
        foreach (var (_, p) in ps)
            p.Dispose();
    }

    [Theory]
    [InlineData("scaled", true)]
    [InlineData("unscaled", false)]
    [InlineData("large", true)]
    public void ClipMatchesTorch(string name, bool clipped)
    {
        int count = Fx.Names.Count(n => n.StartsWith($"clip.{name}.in.", StringComparison.Ordinal));
        var ps = Enumerable.Range(0, count).Select(i =>
        {
            var p = Tensor.Zeros(Fx.Info($"clip.{name}.in.{i}").Shape.ToArray());
            p.Grad = Owned($"clip.{name}.in.{i}");
            return p;
        }).ToList();

        var result = GradClip.ClipByGlobalNorm(ps, Floats($"clip.{name}.max_norm")[0]);

        Assert.Equal(clipped, result.Clipped);
        Assert.True(result.IsFinite);
        Near(Floats($"clip.{name}.norm"), [(float)result.Norm], name + " norm");
        for (int i = 0; i < count; i++)
            Near(Floats($"clip.{name}.out.{i}"), ps[i].Grad!.ToFloatArray(), $"{name} grad {i}");
        foreach (var p in ps)
        {
            p.Grad!.Dispose();
            p.Dispose();
        }
    }

    [Theory]
    [InlineData("constant", "constant", false)]
    [InlineData("linear", "linear", false)]
    [InlineData("cosine", "cosine", false)]
    [InlineData("cosine_min", "cosine", true)]
    public void SchedulesMatchTransformers(string fixture, string name, bool minLr)
    {
        var c = Floats("schedule.config");
        var schedule = LrSchedule.Parse(name, c[0], (int)c[1], (int)c[2], minLr ? c[3] : 0f);
        var expected = Floats($"schedule.{fixture}.lr");
        for (int step = 0; step < expected.Length; step++)
        {
            double err = Math.Abs(schedule.At(step) - (double)expected[step]);
            Assert.True(err <= 1e-6 * Math.Abs(expected[step]), $"{fixture} step {step}: {schedule.At(step):R} vs {expected[step]:R}");
        }
    }
}
