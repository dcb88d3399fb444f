using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Checks of the reference itself, so that a test failure points at the backend: each backward is the
/// derivative of its forward (central differences in float64), and the rounding agrees with .NET's own
/// float conversions wherever those are single-step.
/// </summary>
public sealed class BackendOpsReferenceTests
{
    private const double H = 1e-6;

    /// <summary>Compares an analytic gradient of L(x) = Σ f(x)·w with central differences, for every element of x.</summary>
    private static void AssertGradient(string what, Func<double[], double[]> f, double[] x, double[] w, double[] analytic)
    {
        for (int i = 0; i < x.Length; i++)
        {
            var up = (double[])x.Clone();
            var down = (double[])x.Clone();
            up[i] += H;
            down[i] -= H;
            double fd = (Dot(f(up), w) - Dot(f(down), w)) / (2 * H);
            // Relative 1e-6 for the truncation error (H² · f'''), plus the float64 rounding of L(x ± H),
            // about 2⁻⁵³ · Σ|f·w| each, divided by 2H: 1e-8 · Σ|f·w| is a hundred times that.
            double allowed = 1e-6 * Math.Abs(fd) + 1e-8 * SumAbs(f(x), w);
            Assert.True(Math.Abs(fd - analytic[i]) <= allowed, $"{what}[{i}]: analytic {analytic[i]:R}, finite difference {fd:R}");
        }
    }

    private static double Dot(double[] a, double[] b) => a.Select((x, i) => x * b[i]).Sum();

    private static double SumAbs(double[] a, double[] b) => a.Select((x, i) => Math.Abs(x * b[i])).Sum();

    private static double[] Rand(Random rng, int n, double lo, double hi) => Enumerable.Range(0, n).Select(_ => lo + (hi - lo) * rng.NextDouble()).ToArray();

    [Fact]
    public void ReferenceBackwardsAreDerivativesOfTheirForwards()
    {
        var rng = new Random(1);
        const int n = 3, d = 5;
        var x = Rand(rng, n * d, -2, 2);
        var w = Rand(rng, n * d, -1, 1);

        var y = BackendReference.Softmax(x, n, d);
        AssertGradient("softmax", v => BackendReference.Softmax(v, n, d), x, w, BackendReference.SoftmaxBackward(y, w, n, d));

        var gamma = Rand(rng, d, 0.5, 1.5);
        var (dx, dgamma) = BackendReference.RmsNormBackward(w, x, gamma, n, d, 1e-5);
        AssertGradient("rms_norm dx", v => BackendReference.RmsNorm(v, gamma, n, d, 1e-5).Y, x, w, dx);
        AssertGradient("rms_norm dweight", v => BackendReference.RmsNorm(x, v, n, d, 1e-5).Y, gamma, w, dgamma);

        var up = Rand(rng, n * d, -2, 2);
        var (dg, du) = BackendReference.SwiGluBackward(w, x, up);
        AssertGradient("swiglu dgate", v => BackendReference.SwiGlu(v, up), x, w, dg);
        AssertGradient("swiglu dup", v => BackendReference.SwiGlu(x, v), up, w, du);

        long[] targets = [2, -100, 4];
        var dloss = Rand(rng, n, 0.5, 2);
        AssertGradient("cross_entropy", v => BackendReference.CrossEntropy(v, n, d, targets, -100).Loss, x, dloss,
            BackendReference.CrossEntropyBackward(dloss, x, n, d, targets, -100));

        // The inverse rotation is the transpose: its output is the gradient of the forward.
        const int h = 2, hd = 4, p = 3;
        var q = Rand(rng, n * h * hd, -1, 1);
        var wq = Rand(rng, n * h * hd, -1, 1);
        var angles = Rand(rng, p * hd / 2, -3, 3);
        var cos = angles.Select(Math.Cos).ToArray();
        var sin = angles.Select(Math.Sin).ToArray();
        long[] pos = [2, 0, 2];
        AssertGradient("rope", v => BackendReference.Rope(v, n, h, hd, cos, sin, pos, false), q, wq,
            BackendReference.Rope(wq, n, h, hd, cos, sin, pos, true));
    }

    [Fact]
    public void ReferenceRoundingAgreesWithDotNetConversionsOfFloats()
    {
        var rng = new Random(5);
        for (int i = 0; i < 100_000; i++)
        {
            // Random bit patterns cover every exponent, subnormals, infinities and NaNs.
            float f = BitConverter.Int32BitsToSingle(rng.Next() ^ (rng.Next(2) << 31));
            double r16 = BackendReference.ToF16(f);
            Assert.True(BitConverter.HalfToUInt16Bits((Half)f) == BackendReference.F16Bits(r16) || float.IsNaN(f), $"f16 of {f:R}");
            Assert.Equal(BackendReference.F16Value(BackendReference.F16Bits(r16)), r16);
            if (!float.IsNaN(f))
                Assert.Equal(Numerics.FloatToBf16(f), BackendReference.Bf16Bits(BackendReference.ToBf16(f)));
            Assert.Equal((double)f, BackendReference.ToF32(f));
        }
        // Doubles: float32 rounding is .NET's (float) cast.
        for (int i = 0; i < 10_000; i++)
        {
            double v = (rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-140, 130));
            Assert.Equal((double)(float)v, BackendReference.ToF32(v));
            Assert.Equal((double)(Half)v, BackendReference.ToF16(v));
        }
        Assert.Equal(1.0, BackendReference.ToBf16(1 + Math.Pow(2, -8)));
        Assert.Equal(1 + Math.Pow(2, -7), BackendReference.ToBf16(1 + Math.Pow(2, -8) + Math.Pow(2, -40)));
        Assert.Equal(double.PositiveInfinity, BackendReference.ToF16(65520));
        Assert.Equal(65504, BackendReference.ToF16(65519.99));
    }
}
