using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>dtype conversion: the gradient passes through in float32.</summary>
public class CastGradTests
{
    [Fact]
    public void F32ToF32() => GradCheck.Assert(x => x[0].To(DType.F32) * x[0], [Input.Randn(1, 3, 4)]);

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F16)]
    public void RoundTripPassesGradientThrough(DType dtype)
    {
        var x = Input.Randn(2, 3, 4);
        var half = x.To(dtype);
        Assert.Equal(dtype, half.DType);
        Assert.True(half.RequiresGrad);
        var y = half.To(DType.F32);
        using var g = Tensor.Randn([3, 4], new Generator(3));
        y.Backward(g);
        Assert.Equal(DType.F32, x.Grad!.DType);
        Assert.Equal(g.ToFloatArray(), x.Grad.ToFloatArray());
    }

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F16)]
    public void HalfLeafGetsFloat32Gradient(DType dtype)
    {
        using var x32 = Tensor.Randn([2, 3], new Generator(4));
        var x = x32.To(dtype);
        x.RequiresGrad = true;
        var y = x.To(DType.F32).Square();
        y.Sum().Backward();
        Assert.Equal(DType.F32, x.Grad!.DType);
        Assert.Equal([2, 3], x.Grad.ShapeArray);
        Approx.Close(Array.ConvertAll(x.ToFloatArray(), v => 2 * v), x.Grad, 1e-6);
    }

    [Fact]
    public void ToIntegerRecordsNothing()
    {
        var x = Input.Randn(5, 4);
        using var i = x.To(DType.I32);
        Assert.False(i.RequiresGrad);
        Assert.Null(i.GradFn);
    }

    [Fact]
    public void ComposedWithMath() => GradCheck.Assert(x => x[0].To(DType.F32).Exp().To(DType.F32) * x[0].To(DType.F32), [Input.Randn(6, 2, 5)]);

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.BF16)]
    public void NonContiguousInputs(DType dtype)
    {
        // Transposed, strided and expanded views: values and the passed-through gradient land in place.
        var x = Input.Randn(7, 3, 4);
        var y = x.Transpose(0, 1).To(dtype).To(DType.F32) + Input.Strided(x).Transpose(0, 1).To(dtype).To(DType.F32) + x.Narrow(0, 1, 1).Transpose(0, 1).Expand(4, 3).To(dtype).To(DType.F32);
        Assert.Equal([4, 3], y.ShapeArray);
        using var g = Tensor.Randn([4, 3], new Generator(8));
        y.Backward(g);
        // Expected: gᵀ twice, plus row 1 gets the column sums of g.
        var gv = g.ToFloatArray();
        var expected = new float[12];
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 4; c++)
                expected[r * 4 + c] = 2 * gv[c * 3 + r] + (r == 1 ? gv[c * 3 + 0] + gv[c * 3 + 1] + gv[c * 3 + 2] : 0);
        Approx.Close(expected, x.Grad!, 1e-6);
        if (dtype == DType.F32)
            GradCheck.Assert(t => t[0].Transpose(0, 1).To(DType.F32) * Input.Strided(t[0]).Transpose(0, 1).To(DType.F32), [x]);
    }
}
