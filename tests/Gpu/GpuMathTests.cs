using RawLongLoRA.Kernels.Gpu;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The kernels' own e^x, ln x and x^y, called on the host over wide sweeps, against MathF.</summary>
public sealed class GpuMathTests
{
    [Fact]
    public void ExpIsWithinTwoUlpsOverTheFloatRange()
    {
        for (float x = -103f; x < 88.7f; x += 0.00731f)
            AssertUlps(MathF.Exp(x), GpuMath.Exp(x), 2, $"exp({x:R})");
        Assert.Equal(float.PositiveInfinity, GpuMath.Exp(89f));
        Assert.Equal(float.PositiveInfinity, GpuMath.Exp(float.PositiveInfinity));
        Assert.Equal(0f, GpuMath.Exp(-120f));
        Assert.Equal(0f, GpuMath.Exp(float.NegativeInfinity));
        Assert.True(float.IsNaN(GpuMath.Exp(float.NaN)));
    }

    [Fact]
    public void LogIsWithinTwoUlpsFromSubnormalsToTheTop()
    {
        for (float x = 1e-42f; x < 3e38f; x *= 1.0137f) // from deep in the subnormals (each step moves x)
            AssertUlps(MathF.Log(x), GpuMath.Log(x), 2, $"log({x:R})");
        for (float x = 0.5f; x < 2f; x += 0.0001f) // around 1, where ln x is small: still a few ulps of the result
            Assert.True(MathF.Abs(MathF.Log(x) - GpuMath.Log(x)) <= 2.5e-7f * MathF.Max(MathF.Abs(MathF.Log(x)), 1e-3f), $"log({x:R})");
        Assert.Equal(float.NegativeInfinity, GpuMath.Log(0f));
        Assert.Equal(float.PositiveInfinity, GpuMath.Log(float.PositiveInfinity));
        Assert.True(float.IsNaN(GpuMath.Log(-1f)));
        Assert.True(float.IsNaN(GpuMath.Log(float.NaN)));
    }

    [Theory]
    [InlineData(2.5f, 3f)]
    [InlineData(-2.5f, 3f)]
    [InlineData(-2.5f, -2f)]
    [InlineData(-2.5f, 0.5f)]
    [InlineData(0f, 2f)]
    [InlineData(0f, -1f)]
    [InlineData(7f, 0f)]
    [InlineData(float.NaN, 0f)]
    [InlineData(1f, float.NaN)]
    [InlineData(0.3f, 17.25f)]
    [InlineData(-1e-3f, 4f)]
    [InlineData(-3f, 3e7f)]
    [InlineData(float.NegativeInfinity, 0.5f)]
    [InlineData(float.NegativeInfinity, 3f)]
    [InlineData(float.NegativeInfinity, -3f)]
    [InlineData(-1f, float.PositiveInfinity)]
    public void PowMatchesMathF(float x, float y)
    {
        float want = MathF.Pow(x, y), got = GpuMath.Pow(x, y);
        if (!float.IsFinite(want))
            Assert.Equal(want, got);
        else
            Assert.True(MathF.Abs(got - want) <= 2e-6f * MathF.Abs(want), $"pow({x}, {y}): {got:R}, MathF {want:R}");
    }

    private static void AssertUlps(float want, float got, int ulps, string what)
    {
        if (want == 0f || !float.IsFinite(want))
        {
            Assert.True(want.Equals(got), $"{what}: {got:R}, MathF {want:R}");
            return;
        }
        long d = Math.Abs((long)BitConverter.SingleToInt32Bits(want) - BitConverter.SingleToInt32Bits(got));
        Assert.True(d <= ulps, $"{what}: {got:R}, MathF {want:R} ({d} ulps)");
    }
}
