using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>RMSNorm over the last dim: y = x · rsqrt(mean(x²) + eps) · w.</summary>
public class RmsNormGradTests
{
    [Fact]
    public void Rows() => GradCheck.Assert(x => x[0].RmsNorm(x[1], 1e-5f), [Input.Randn(1, 3, 8), Input.Uniform(2, 0.5f, 1.5f, 8)]);

    [Fact]
    public void ThreeD() => GradCheck.Assert(x => x[0].RmsNorm(x[1], 1e-6f), [Input.Randn(3, 2, 3, 8), Input.Uniform(4, 0.5f, 1.5f, 8)]);

    [Fact]
    public void LargeEps() => GradCheck.Assert(x => x[0].RmsNorm(x[1], 0.5f), [Input.Randn(5, 4, 6), Input.Randn(6, 6)]);

    [Fact]
    public void FrozenWeight()
    {
        using var w = Tensor.Uniform([8], 0.5f, 1.5f, new Generator(7));
        var x = Input.Randn(8, 3, 8);
        GradCheck.Assert(t => t[0].RmsNorm(t[1], 1e-5f), [x, w]);
        Assert.Null(w.Grad);
    }

    [Fact]
    public void WeightOnly()
    {
        using var x = Tensor.Randn([3, 8], new Generator(9));
        GradCheck.Assert(t => t[0].RmsNorm(t[1], 1e-5f), [x, Input.Randn(10, 8)]);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void MatchesDefinition()
    {
        using var x = Tensor.FromArray([1f, 2f, 3f, 4f, -1f, 0f, 1f, 0f], [2, 4]);
        using var w = Tensor.FromArray([1f, 0.5f, 2f, 1f]);
        var y = x.RmsNorm(w, 1e-6f).ToFloatArray();
        var xv = x.ToFloatArray();
        var wv = w.ToFloatArray();
        for (int r = 0; r < 2; r++)
        {
            double ms = 0;
            for (int i = 0; i < 4; i++)
                ms += xv[r * 4 + i] * xv[r * 4 + i] / 4.0;
            for (int i = 0; i < 4; i++)
                Assert.Equal(xv[r * 4 + i] / Math.Sqrt(ms + 1e-6) * wv[i], y[r * 4 + i], 5);
        }
    }

    [Fact]
    public void Bf16WeightForward()
    {
        // A bfloat16 weight (as loaded from a checkpoint) gives what its float32 value gives.
        using var w32 = Tensor.Uniform([8], 0.5f, 1.5f, new Generator(11));
        using var w16 = w32.To(DType.BF16);
        using var wRounded = w16.To(DType.F32);
        var x = Input.Randn(12, 3, 8);
        var y16 = x.RmsNorm(w16, 1e-5f);
        Assert.Equal(DType.F32, y16.DType);
        Approx.Close(x.RmsNorm(wRounded, 1e-5f).ToFloatArray(), y16, 1e-7);
        // The input still gets its gradient through the bf16 weight.
        GradCheck.Assert(t => t[0].RmsNorm(w16, 1e-5f), [x]);
    }

    [Fact]
    public void TransposedInput() => GradCheck.Assert(x => x[0].Transpose(0, 1).RmsNorm(x[1], 1e-5f), [Input.Randn(13, 8, 3), Input.Randn(14, 8)]);

    [Fact]
    public void StridedInputAndWeight() => GradCheck.Assert(x => Input.Strided(x[0]).RmsNorm(Input.Strided(x[1]), 1e-5f), [Input.Randn(15, 2, 3, 6), Input.Randn(16, 6)]);

    [Fact]
    public void ExpandedInputAndNarrowedWeight()
        => GradCheck.Assert(x => x[0].Expand(3, 6).RmsNorm(x[1].Narrow(0, 2, 6), 1e-5f), [Input.Randn(17, 1, 6), Input.Randn(18, 10)]);
}
