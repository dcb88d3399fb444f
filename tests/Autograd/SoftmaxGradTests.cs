using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Softmax over the last dim.</summary>
public class SoftmaxGradTests
{
    [Fact]
    public void Rows() => GradCheck.Assert(x => x[0].Softmax(), [Input.Randn(1, 4, 6)]);

    [Fact]
    public void ThreeD() => GradCheck.Assert(x => x[0].Softmax(), [Input.Randn(2, 2, 3, 5)]);

    [Fact]
    public void SingleColumnHasZeroGradient()
    {
        var x = Input.Randn(3, 4, 1);
        var y = x.Softmax();
        Assert.All(y.ToFloatArray(), v => Assert.Equal(1f, v));
        (y * Tensor.Randn([4, 1], new Generator(4))).Sum().Backward();
        Assert.All(x.Grad!.ToFloatArray(), v => Assert.Equal(0f, v, 6));
    }

    [Fact]
    public void LargeLogitsStayFinite()
    {
        var x = Input.Randn(5, 3, 4);
        GradCheck.Assert(t => (t[0] + 80f).Softmax(), [x]);
        using var big = Tensor.FromArray([1000f, 999f, -1000f], [1, 3]);
        var y = big.Softmax().ToFloatArray();
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(1f / (1f + MathF.Exp(-1f)), y[0], 6);
    }

    [Fact]
    public void TransposedInput() => GradCheck.Assert(x => x[0].Transpose(0, 1).Softmax(), [Input.Randn(6, 5, 3)]);

    [Fact]
    public void StridedInput() => GradCheck.Assert(x => Input.Strided(x[0]).Softmax(), [Input.Randn(7, 3, 4)]);

    [Fact]
    public void ExpandedInput() => GradCheck.Assert(x => x[0].Expand(3, 4).Softmax(), [Input.Randn(8, 1, 4)]);

    [Fact]
    public void NarrowedInput() => GradCheck.Assert(x => x[0].Narrow(1, 1, 4).Softmax(), [Input.Randn(9, 3, 6)]);
}
