using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>y = x Wᵀ + b with W [out, in]; a frozen weight gets no gradient buffer.</summary>
public class LinearGradTests
{
    [Fact]
    public void WithBias() => GradCheck.Assert(x => x[0].Linear(x[1], x[2]), [Input.Randn(1, 3, 4), Input.Randn(2, 5, 4), Input.Randn(3, 5)]);

    [Fact]
    public void WithoutBias() => GradCheck.Assert(x => x[0].Linear(x[1]), [Input.Randn(4, 3, 4), Input.Randn(5, 5, 4)]);

    [Fact]
    public void ThreeDInput() => GradCheck.Assert(x => x[0].Linear(x[1], x[2]), [Input.Randn(6, 2, 3, 4), Input.Randn(7, 5, 4), Input.Randn(8, 5)]);

    [Fact]
    public void FourDInput() => GradCheck.Assert(x => x[0].Linear(x[1]), [Input.Randn(9, 2, 2, 3, 4), Input.Randn(10, 3, 4)]);

    [Fact]
    public void OneDInput() => GradCheck.Assert(x => x[0].Linear(x[1], x[2]), [Input.Randn(32, 4), Input.Randn(33, 5, 4), Input.Randn(34, 5)]);

    [Fact]
    public void FrozenWeight()
    {
        using var w = Tensor.Randn([5, 4], new Generator(11));
        using var b = Tensor.Randn([5], new Generator(12));
        var x = Input.Randn(13, 2, 3, 4);
        GradCheck.Assert(t => t[0].Linear(t[1], t[2]), [x, w, b]);
        Assert.NotNull(x.Grad);
        Assert.Null(w.Grad);
        Assert.Null(b.Grad);
    }

    [Fact]
    public void FrozenWeightTrainableBias()
    {
        using var w = Tensor.Randn([5, 4], new Generator(14));
        var b = Input.Randn(15, 5);
        GradCheck.Assert(t => t[0].Linear(t[1], t[2]), [Input.Randn(16, 3, 4), w, b]);
        Assert.Null(w.Grad);
        Assert.NotNull(b.Grad);
    }

    [Fact]
    public void FrozenInputTrainableWeight()
    {
        using var x = Tensor.Randn([2, 3, 4], new Generator(17));
        var w = Input.Randn(18, 5, 4);
        GradCheck.Assert(t => t[0].Linear(t[1]), [x, w]);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void Bf16FrozenWeightMatchesF32()
    {
        // Weights may come in bfloat16; the input's gradient is still float32 and uses the same weight.
        using var w32 = Tensor.Randn([5, 4], new Generator(19));
        using var w16 = w32.To(DType.BF16);
        using var wRounded = w16.To(DType.F32);
        var x = Input.Randn(20, 3, 4);
        var y16 = x.Linear(w16);
        y16.Sum().Backward();
        var g16 = x.Grad!.ToFloatArray();
        x.Grad = null;
        var y32 = x.Linear(wRounded);
        y32.Sum().Backward();
        Approx.Close(y32.ToFloatArray(), y16, 1e-6);
        Approx.Close(x.Grad!.ToFloatArray(), g16, 1e-6);
    }

    // ---- non-contiguous operands

    [Fact]
    public void TransposedInputAndWeight()
        // x [3, 4] from a [4, 3] leaf; W [5, 4] from a [4, 5] leaf (the layout of a tied or transposed weight).
        => GradCheck.Assert(x => x[0].Transpose(0, 1).Linear(x[1].Transpose(0, 1), x[2]), [Input.Randn(21, 4, 3), Input.Randn(22, 4, 5), Input.Randn(23, 5)]);

    [Fact]
    public void PermutedThreeDInput()
        => GradCheck.Assert(x => x[0].Permute(1, 0, 2).Linear(x[1], x[2]), [Input.Randn(24, 3, 2, 4), Input.Randn(25, 5, 4), Input.Randn(26, 5)]);

    [Fact]
    public void StridedOperands()
        => GradCheck.Assert(x => Input.Strided(x[0]).Linear(Input.Strided(x[1]), Input.Strided(x[2])), [Input.Randn(27, 2, 3, 4), Input.Randn(28, 5, 4), Input.Randn(29, 5)]);

    [Fact]
    public void ExpandedInput()
        => GradCheck.Assert(x => x[0].Expand(2, 3, 4).Linear(x[1]), [Input.Randn(30, 1, 3, 4), Input.Randn(31, 5, 4)]);
}
