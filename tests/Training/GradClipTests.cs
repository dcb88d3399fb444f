using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Clipping's edge cases: non-finite norms, parameters without gradients, strided gradients.</summary>
public class GradClipTests
{
    private static Tensor WithGrad(float[] grad)
    {
        var p = Tensor.Zeros([grad.Length]);
        p.Grad = Tensor.FromArray(grad);
        return p;
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void NonFiniteNormIsReportedAndNothingIsScaled(float bad)
    {
        using var scope = new DisposeScope();
        var ps = new[] { WithGrad([3f, 4f]), WithGrad([1f, bad]) };
        var r = GradClip.ClipByGlobalNorm(ps, 1.0);
        Assert.False(r.IsFinite);
        Assert.False(r.Clipped);
        Assert.Equal([3f, 4f], ps[0].Grad!.ToFloatArray());
    }

    [Fact]
    public void ParametersWithoutGradientsAreSkipped()
    {
        using var scope = new DisposeScope();
        var ps = new[] { WithGrad([3f, 4f]), Tensor.Zeros([7]) };
        var r = GradClip.ClipByGlobalNorm(ps, 1.0);
        Assert.Equal(5.0, r.Norm);
        Assert.True(r.Clipped);
        Assert.Equal([(float)(3 / (5 + 1e-6)), (float)(4 / (5 + 1e-6))], ps[0].Grad!.ToFloatArray());
    }

    [Fact]
    public void NormOfManySquaresDoesNotStallAsAFloatRunningSumWould()
    {
        // 3·2^23 squares of 1: a float32 running sum stops at 2^24 (norm 4096); the device's fused Σ g² does not.
        using var scope = new DisposeScope();
        var g = Tensor.Ones([3 << 23]);
        Assert.Equal((float)Math.Sqrt(3 << 23), (float)GradClip.GlobalNorm([g]));
    }

    [Fact]
    public void StridedGradientIsReadAndScaledInPlace()
    {
        using var scope = new DisposeScope();
        var p = Tensor.Zeros([2, 2]);
        p.Grad = Tensor.FromArray([3f, 0f, 4f, 0f], [2, 2]).Restride(new Layout([2, 2], [1, 2], 0));
        var r = GradClip.ClipByGlobalNorm([p], 2.5);
        Assert.Equal(5.0, r.Norm);
        Assert.Equal([1.5f, 2f, 0f, 0f], p.Grad.ToFloatArray().Select(x => MathF.Round(x, 5)));
    }

    [Fact]
    public void MaxNormMustBePositive() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => GradClip.ClipByGlobalNorm([], 0));
}
