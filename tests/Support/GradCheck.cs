using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Finite-difference gradient check. The scalar probed is L = Σ f(x) ⊙ w with fixed random w,
/// accumulated in float64; central differences (L(x+ε) − L(x−ε)) / 2ε, also in float64, are compared
/// with the autograd gradient of every input that requires one. The op itself runs in float32, the
/// CPU's compute type, so ε is large enough that float32 rounding stays below the tolerance.
/// </summary>
public static class GradCheck
{
    public static void Assert(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 3e-3, double rtol = 2e-2, double atol = 2e-3, int maxProbes = 64)
    {
        using var scope = new DisposeScope();
        foreach (var x in inputs)
            x.Grad = null;
        var y = f(inputs);
        var w = Tensor.Randn(y.ShapeArray, new Generator(99));
        var wv = w.ToFloatArray();
        (y * w).Sum().Backward();
        for (int i = 0; i < inputs.Length; i++)
        {
            var x = inputs[i];
            if (!x.RequiresGrad)
                continue;
            Xunit.Assert.True(x.Grad is not null, $"input {i} ({x.Describe()}) got no gradient");
            var analytic = x.Grad!.ToFloatArray();
            var data = x.AsSpan<float>();
            var fd = new double[data.Length];
            int stride = Math.Max(1, data.Length / maxProbes);
            double maxFd = 0;
            var probes = Enumerable.Range(0, data.Length).Where(j => j % stride == 0).ToArray();
            foreach (int j in probes)
            {
                float orig = data[j];
                data[j] = orig + (float)eps;
                double up = Loss(f, inputs, wv);
                data = x.AsSpan<float>();
                data[j] = orig - (float)eps;
                double down = Loss(f, inputs, wv);
                data = x.AsSpan<float>();
                data[j] = orig;
                // The perturbation actually applied, after float32 rounding of orig ± eps.
                double h = (double)(orig + (float)eps) - (orig - (float)eps);
                fd[j] = (up - down) / h;
                maxFd = Math.Max(maxFd, Math.Abs(fd[j]));
            }
            foreach (int j in probes)
            {
                double err = Math.Abs(analytic[j] - fd[j]);
                // atol is relative to the input's largest gradient, not floored at 1, so an input whose
                // gradients are all small is checked as closely as one whose gradients are large.
                double allowed = atol * maxFd + rtol * Math.Abs(fd[j]);
                Xunit.Assert.True(err <= allowed,
                    $"input {i} element {j}: autograd {analytic[j]:G6} vs finite difference {fd[j]:G6} (error {err:G3} > {allowed:G3})");
            }
        }
    }

    private static double Loss(Func<Tensor[], Tensor> f, Tensor[] inputs, float[] w)
    {
        using var scope = new DisposeScope();
        using var ng = Autograd.NoGrad();
        var y = f(inputs).ToFloatArray();
        double s = 0;
        for (int i = 0; i < y.Length; i++)
            s += (double)y[i] * w[i];
        return s;
    }
}
