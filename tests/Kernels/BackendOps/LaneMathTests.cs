using System.Runtime.Intrinsics;
using RawLongLoRA.Kernels.Cpu;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The lane math the CPU kernels are written in (IVec, VMath): e^x against Math.Exp, and every width
/// (V512, V256, V128 where the CPU has them, V1) giving the same bits, so that a value's result does not
/// depend on whether it lands in a vector or in a loop's tail, nor on the width a kernel runs at.
/// </summary>
public sealed unsafe class BackendOpsLaneMathTests
{
    /// <summary>Runs f over x at every width this CPU accelerates, and asserts they agree bit for bit; returns V1's results.</summary>
    private static float[] AtEveryWidth(float[] x, Func<float[], int, float[]> f)
    {
        var scalar = f(x, 1);
        var accelerated = new[] { (4, Vector128.IsHardwareAccelerated), (8, Vector256.IsHardwareAccelerated), (16, Vector512.IsHardwareAccelerated) };
        foreach (int width in accelerated.Where(w => w.Item2).Select(w => w.Item1))
        {
            var wide = f(x, width);
            for (int i = 0; i < x.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(scalar[i]) == BitConverter.SingleToInt32Bits(wide[i]),
                    $"input {x[i]:R}: {width} lanes give {wide[i]:R}, one lane {scalar[i]:R}");
        }
        return scalar;
    }

    private static float[] Exp(float[] x, int width) => Map(x, width, new ExpFn());

    private static float[] ExpFlushToZero(float[] x, int width) => Map(x, width, new ExpFlushToZeroFn());

    private static float[] ExpFlushToZeroBf16(float[] x, int width) => Map(x, width, new ExpFlushToZeroBf16Fn());

    private interface ILaneFn
    {
        TV Apply<TV>(TV x) where TV : unmanaged, IVec<TV>;
    }

    private readonly struct ExpFn : ILaneFn
    {
        public TV Apply<TV>(TV x) where TV : unmanaged, IVec<TV> => VMath.Exp(x);
    }

    private readonly struct ExpFlushToZeroFn : ILaneFn
    {
        public TV Apply<TV>(TV x) where TV : unmanaged, IVec<TV> => VMath.ExpFlushToZero(x);
    }

    private readonly struct ExpFlushToZeroBf16Fn : ILaneFn
    {
        public TV Apply<TV>(TV x) where TV : unmanaged, IVec<TV> => VMath.ExpFlushToZeroBf16(x);
    }

    /// <summary>f over x, width lanes at a time.</summary>
    private static float[] Map<TF>(float[] x, int width, TF f) where TF : ILaneFn
    {
        var y = new float[x.Length];
        fixed (float* xp = x, yp = y)
            for (int i = 0; i + width <= x.Length; i += width)
            {
                switch (width)
                {
                    case 16: f.Apply(V512.Load(xp + i)).Store(yp + i); break;
                    case 8: f.Apply(V256.Load(xp + i)).Store(yp + i); break;
                    case 4: f.Apply(V128.Load(xp + i)).Store(yp + i); break;
                    default: f.Apply(V1.Load(xp + i)).Store(yp + i); break;
                }
            }
        return y;
    }

    /// <summary>2¹⁶ values uniform in [from, to), every third of them scaled by 10⁻³ (arguments near 0).</summary>
    private static float[] Inputs(int seed, double from, double to)
    {
        var rng = new Random(seed);
        var x = new float[1 << 16];
        for (int i = 0; i < x.Length; i++)
            x[i] = (float)(rng.NextDouble() * (to - from) + from) * (i % 3 == 0 ? 1e-3f : 1);
        return x;
    }

    [Fact]
    public void ExpIsWithinAnUlpAndTheSameAtEveryWidth()
    {
        var x = Inputs(5, -105, 95);
        var y = AtEveryWidth(x, Exp);
        for (int i = 0; i < x.Length; i++)
        {
            double e = Math.Exp(x[i]);
            if (e < 1.2e-38 || e > float.MaxValue)
                continue; // subnormal or overflowing results: see the edge-case test
            float rounded = (float)e;
            double ulp = MathF.BitIncrement(MathF.Abs(rounded)) - MathF.Abs(rounded);
            Assert.True(Math.Abs(y[i] - e) <= ulp, $"exp({x[i]:R}) = {y[i]:R}, expected {e:R} within an ulp ({ulp:G3})");
        }
    }

    [Fact]
    public void ExpEdgeCases()
    {
        // Padded to 16 so that every width sees each value in a vector lane.
        float[] x = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 88.72f, 88.73f, 100f, -87.3f, -104f, -1e30f, 0f, -0f, 1f, 1e-30f, -1e-30f, 20f, -20f];
        var y = AtEveryWidth(x, Exp);
        Assert.True(float.IsNaN(y[0]), $"exp(NaN) = {y[0]}");
        Assert.Equal(float.PositiveInfinity, y[1]);
        Assert.Equal(0f, y[2]);
        Assert.Equal(3.3931806e38f, y[3], 2e31f);
        Assert.Equal(float.PositiveInfinity, y[4]); // past float's largest value
        Assert.Equal(float.PositiveInfinity, y[5]);
        Assert.Equal(1.2192434e-38f, y[6], 1e-44f); // near the smallest normal, still to an ulp
        Assert.Equal(0f, y[7]); // e^−104 is below float's smallest subnormal
        Assert.Equal(0f, y[8]);
        Assert.Equal(1f, y[9]);
        Assert.Equal(1f, y[10]);
        Assert.Equal(MathF.E, y[11]);
        Assert.Equal(1f, y[12]);
        Assert.Equal(1f, y[13]);
    }

    [Fact]
    public void ExpPassesNaNInEveryLane()
    {
        // A NaN must survive the clamp to [−104, 89] wherever it sits in the register.
        for (int lane = 0; lane < 16; lane++)
        {
            var x = Enumerable.Repeat(-1f, 16).ToArray();
            x[lane] = float.NaN;
            var y = AtEveryWidth(x, Exp);
            Assert.True(float.IsNaN(y[lane]), $"exp(NaN) in lane {lane} gives {y[lane]}");
            Assert.Equal(MathF.Exp(-1f), y[(lane + 1) % 16], 1e-7f);
        }
    }

    [Fact]
    public void ExpFlushToZeroIsExpWithoutSubnormals()
    {
        var rng = new Random(7);
        var x = new float[1 << 14];
        for (int i = 0; i < x.Length; i++)
            x[i] = (float)(rng.NextDouble() * 200 - 110);
        float[] edges = [float.NegativeInfinity, float.NaN, -86.98f, -86.97f, -87.4f, -100f, -103.9f, 0f, 88.7f, float.PositiveInfinity, -1e30f, 1e-30f, -20f, -87f, -86.9f, -90f];
        edges.CopyTo(x, 0);
        var flushed = AtEveryWidth(x, ExpFlushToZero);
        var exact = AtEveryWidth(x, Exp);
        for (int i = 0; i < x.Length; i++)
        {
            float expected = x[i] > -86.98f ? exact[i] : 0f;
            Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(flushed[i]),
                $"flushed exp({x[i]:R}) = {flushed[i]:R}, expected {expected:R}");
            Assert.False(flushed[i] != 0 && float.IsSubnormal(flushed[i]), $"flushed exp({x[i]:R}) = {flushed[i]:R} is subnormal");
        }
        Assert.Equal(float.PositiveInfinity, flushed[9]);
    }

    /// <summary>
    /// The bf16 passes' exp: within 2⁻¹⁷ of e^x relative (the bound its comment derives; rounding to bf16 errs by up to
    /// 2⁻⁹), the same bits at every width, and flushed to 0 as ExpFlushToZero is.
    /// </summary>
    [Fact]
    public void ExpFlushToZeroBf16IsWithin2ToTheMinus17()
    {
        var x = Inputs(11, -87, 89);
        float[] edges = [float.NegativeInfinity, float.NaN, -86.98f, -86.97f, -90f, 0f, 88.7f, float.PositiveInfinity, -0.34657f, 0.34657f];
        edges.CopyTo(x, 0);
        var y = AtEveryWidth(x, ExpFlushToZeroBf16);
        for (int i = 0; i < x.Length; i++)
        {
            if (!(x[i] > -86.98f))
            {
                Assert.True(y[i] == 0f, $"exp({x[i]:R}) = {y[i]:R}, expected 0");
                continue;
            }
            double e = Math.Exp(x[i]);
            if (e > float.MaxValue)
            {
                Assert.Equal(float.PositiveInfinity, y[i]);
                continue;
            }
            Assert.True(Math.Abs(y[i] - e) <= e * Math.Pow(2, -17), $"exp({x[i]:R}) = {y[i]:R}, exactly {e:R}: off by {Math.Abs(y[i] - e) / e:E2} relative");
        }
    }

    private static float[] Bf16(float[] bits, int width)
    {
        var raw = bits.Select(b => (ushort)b).ToArray();
        var y = new float[raw.Length];
        fixed (ushort* p = raw)
        fixed (float* yp = y)
            for (int i = 0; i + width <= raw.Length; i += width)
            {
                switch (width)
                {
                    case 16: V512.LoadBf16(p + i).Store(yp + i); break;
                    case 8: V256.LoadBf16(p + i).Store(yp + i); break;
                    case 4: V128.LoadBf16(p + i).Store(yp + i); break;
                    default: V1.LoadBf16(p + i).Store(yp + i); break;
                }
            }
        return y;
    }

    [Fact]
    public void Bf16WideningIsExactAtEveryWidth()
    {
        // Every bit pattern: signs, subnormals, infinities and NaNs included.
        var bits = Enumerable.Range(0, 1 << 16).Select(b => (float)b).ToArray();
        var y = AtEveryWidth(bits, Bf16);
        for (int b = 0; b < y.Length; b++)
            Assert.Equal((uint)b << 16, BitConverter.SingleToUInt32Bits(y[b]));
    }
}
