using RawLongLoRA;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>Several AdamW steps against a float64 re-implementation of torch.optim.AdamW's update.</summary>
public sealed class BackendOpsAdamWTests
{
    [Theory]
    [InlineData(1, 0.01f)]
    [InlineData(7, 0f)]
    [InlineData(33, 0.1f)]
    [InlineData(40001, 0.01f)]
    public void StepsMatchTorchAdamWInFloat64(int n, float weightDecay)
    {
        using var scope = new DisposeScope();
        const float lr = 1e-2f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
        var rng = new Random(n);
        var p = Uniform(rng, n, -1, 1);
        var p0 = (double[])p.Clone();
        double[] m = new double[n], v = new double[n];
        var pt = Place(p, [n]);
        var mt = Tensor.Zeros([n]);
        var vt = Tensor.Zeros([n]);
        for (int step = 1; step <= 5; step++)
        {
            // Gradients of mixed scale, and some exactly zero (then only decay moves the parameter).
            var g = Uniform(rng, n, -1, 1);
            for (int i = 0; i < n; i++)
                g[i] = i % 7 == 3 ? 0 : (float)(g[i] * Math.Pow(10, i % 4 - 2));
            Cpu.AdamW(pt, Place(g, [n]), mt, vt, new AdamWStep(lr, beta1, beta2, eps, weightDecay, step));
            // The reference gets the same float32 hyper-parameters, widened.
            BackendReference.AdamW(p, g, m, v, lr, beta1, beta2, eps, weightDecay, step);
            AssertClose($"exp_avg after step {step}", m, Read(mt), 1e-5);
            AssertClose($"exp_avg_sq after step {step}", v, Read(vt), 1e-5);
            // Updates are ~lr against parameters ~1: compare the distance moved, not just the parameter.
            var moved = Read(pt).Select((x, i) => x - p0[i]).ToArray();
            AssertClose($"param update after step {step}", p.Select((x, i) => x - p0[i]).ToArray(), moved, 1e-4);
        }
    }

    [Fact]
    public void AdamWBadInputNamesTheOpShapesAndDTypes()
    {
        using var scope = new DisposeScope();
        var s = new AdamWStep(1e-3f, 0.9f, 0.999f, 1e-8f, 0, 1);
        AssertThrows(() => Cpu.AdamW(Tensor.Zeros([5]), Tensor.Zeros([4]), Tensor.Zeros([5]), Tensor.Zeros([5]), s), "adamw", "[4]", "[5]");
        AssertThrows(() => Cpu.AdamW(Tensor.Zeros([5]), Tensor.Zeros([5], DType.BF16), Tensor.Zeros([5]), Tensor.Zeros([5]), s), "adamw", "grad", "bfloat16");
        AssertThrows(() => Cpu.AdamW(Tensor.Zeros([5]), Tensor.Zeros([5]), Output([5], DType.F32, View.Stepped), Tensor.Zeros([5]), s), "adamw", "exp_avg", "contiguous");
        AssertThrows(() => Cpu.AdamW(Tensor.Zeros([5]), Tensor.Zeros([5]), Tensor.Zeros([5]), Tensor.Zeros([5]), s with { Step = 0 }), "adamw", "step");
    }
}
