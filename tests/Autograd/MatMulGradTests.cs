using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Matrix products: 2D, rows @ matrix, batched 3D and 4D, with transposed and otherwise strided operands.</summary>
public class MatMulGradTests
{
    [Fact]
    public void TwoD() => GradCheck.Assert(x => x[0].MatMul(x[1]), [Input.Randn(1, 3, 4), Input.Randn(2, 4, 5)]);

    [Fact]
    public void ThreeDTimesMatrix() => GradCheck.Assert(x => x[0].MatMul(x[1]), [Input.Randn(3, 2, 3, 4), Input.Randn(4, 4, 5)]);

    [Fact]
    public void FourDTimesMatrix() => GradCheck.Assert(x => x[0].MatMul(x[1]), [Input.Randn(5, 2, 2, 3, 4), Input.Randn(6, 4, 3)]);

    [Fact]
    public void Batched3D() => GradCheck.Assert(x => x[0].MatMul(x[1]), [Input.Randn(7, 2, 3, 4), Input.Randn(8, 2, 4, 5)]);

    [Fact]
    public void Batched4D() => GradCheck.Assert(x => x[0].MatMul(x[1]), [Input.Randn(9, 2, 3, 2, 4), Input.Randn(10, 2, 3, 4, 3)]);

    [Fact]
    public void OnlyLeftWantsGrad()
    {
        using var b = Tensor.Randn([4, 5], new Generator(11));
        GradCheck.Assert(x => x[0].MatMul(x[1]), [Input.Randn(12, 3, 4), b]);
        Assert.Null(b.Grad);
    }

    [Fact]
    public void OnlyRightWantsGrad()
    {
        using var a = Tensor.Randn([2, 3, 4], new Generator(13));
        GradCheck.Assert(x => x[0].MatMul(x[1]), [a, Input.Randn(14, 4, 5)]);
        Assert.Null(a.Grad);
    }

    // ---- non-contiguous operands

    [Fact]
    public void TransposedViews2D()
        => GradCheck.Assert(x => x[0].Transpose(0, 1).MatMul(x[1].Transpose(0, 1)), [Input.Randn(15, 4, 3), Input.Randn(16, 5, 4)]);

    [Fact]
    public void TransposedViewTimesMatrix()
        // a [2, 3, 4] from a [2, 4, 3] leaf: its rows do not flatten without a copy.
        => GradCheck.Assert(x => x[0].Transpose(1, 2).MatMul(x[1].Transpose(0, 1)), [Input.Randn(17, 2, 4, 3), Input.Randn(18, 5, 4)]);

    [Fact]
    public void TransposedViewsBatched3D()
        => GradCheck.Assert(x => x[0].Transpose(1, 2).MatMul(x[1].Transpose(1, 2)), [Input.Randn(19, 2, 4, 3), Input.Randn(20, 2, 5, 4)]);

    [Fact]
    public void PermutedViewsBatched4D()
        // Attention's layout: [B, T, H, D] leaves permuted to [B, H, T, D] and [B, H, D, T].
        => GradCheck.Assert(x => x[0].Permute(0, 2, 1, 3).MatMul(x[1].Permute(0, 2, 3, 1)), [Input.Randn(21, 2, 3, 2, 4), Input.Randn(22, 2, 5, 2, 4)]);

    [Fact]
    public void NarrowedAndStridedOperands()
        => GradCheck.Assert(x => x[0].Narrow(1, 1, 4).MatMul(Input.Strided(x[1]).Narrow(0, 0, 4)), [Input.Randn(23, 3, 6), Input.Randn(24, 5, 3)]);

    [Fact]
    public void ExpandedBatchOperand()
        // One matrix broadcast over the batch: its gradient sums over the batch.
        => GradCheck.Assert(x => x[0].MatMul(x[1].Expand(3, 4, 2)), [Input.Randn(25, 3, 2, 4), Input.Randn(26, 1, 4, 2)]);

    [Fact]
    public void MatchesExplicitSum()
    {
        using var a = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], [2, 3]);
        using var b = Tensor.FromArray([1f, 0f, -1f, 2f, 0.5f, 1f], [3, 2]);
        Assert.Equal([0.5f, 7f, 2f, 16f], a.MatMul(b).ToFloatArray());
    }
}
