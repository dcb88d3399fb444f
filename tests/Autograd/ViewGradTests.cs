using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Views and copies: gradients map back through the inverse view, also where reshape must copy.</summary>
public class ViewGradTests
{
    [Fact]
    public void Reshape() => GradCheck.Assert(x => x[0].Reshape(4, -1, 2) * x[1], [Input.Randn(1, 2, 3, 4), Input.Randn(2, 4, 3, 2)]);

    [Fact]
    public void ReshapeOfTransposedCopies()
    {
        var leaf = Input.Randn(3, 3, 4);
        using (var t = leaf.Transpose(0, 1))
        using (var r = t.Reshape(12))
        {
            Assert.NotEqual(leaf.DataPointer, r.DataPointer);
            Assert.Equal(leaf.Transpose(0, 1).Contiguous().ToFloatArray(), r.ToFloatArray());
        }
        GradCheck.Assert(x => x[0].Transpose(0, 1).Reshape(2, 6) * x[1], [leaf, Input.Randn(4, 2, 6)]);
    }

    [Fact]
    public void ReshapeOfPermutedThatStaysAView()
        // [2, 3, 4] permuted to [3, 2, 4]: the last dim stays contiguous, so [3, 8] is not a view but [3, 2, 2, 2] is.
        => GradCheck.Assert(x => x[0].Permute(1, 0, 2).Reshape(3, 2, 2, 2) * x[1] + x[0].Permute(1, 0, 2).Reshape(3, 8).Reshape(3, 2, 2, 2),
            [Input.Randn(5, 2, 3, 4), Input.Randn(6, 3, 2, 2, 2)]);

    [Fact]
    public void View() => GradCheck.Assert(x => x[0].View(3, 8) * x[1] + x[0].Narrow(0, 1, 1).View(12).Sum(), [Input.Randn(7, 2, 3, 4), Input.Randn(8, 3, 8)]);

    [Fact]
    public void Flatten()
        => GradCheck.Assert(x => x[0].Flatten().Reshape(4, 6) + x[0].Flatten(1).Reshape(4, 6) + x[0].Flatten(0, 1).Reshape(4, 6) + x[0].Transpose(0, 2).Flatten(1, 2).Reshape(4, 6),
            [Input.Randn(9, 2, 3, 4)]);

    [Fact]
    public void Transpose() => GradCheck.Assert(x => x[0].Transpose(0, 2) * x[1] + x[0].Transpose(-1, -3), [Input.Randn(10, 2, 3, 4), Input.Randn(11, 4, 3, 2)]);

    [Fact]
    public void Permute() => GradCheck.Assert(x => x[0].Permute(2, 0, 3, 1) * x[1], [Input.Randn(12, 2, 3, 4, 5), Input.Randn(13, 4, 2, 5, 3)]);

    [Fact]
    public void PermuteOfPermute() => GradCheck.Assert(x => x[0].Permute(1, 2, 0).Permute(2, 0, 1).Permute(0, 2, 1) * x[1], [Input.Randn(14, 2, 3, 4), Input.Randn(15, 2, 4, 3)]);

    [Fact]
    public void Narrow()
        => GradCheck.Assert(x => x[0].Narrow(1, 1, 2).Narrow(-1, 2, 3) * x[1] + x[0].Narrow(0, 0, 1).Narrow(1, 2, 2).Narrow(2, 0, 3),
            [Input.Randn(16, 2, 4, 5), Input.Randn(17, 2, 2, 3)]);

    [Fact]
    public void NarrowOverlappingWindows()
        => GradCheck.Assert(x => x[0].Narrow(0, 0, 3) * x[0].Narrow(0, 2, 3), [Input.Randn(18, 5, 2)]);

    [Fact]
    public void Expand()
        => GradCheck.Assert(x => x[0].Expand(2, 3, 4) * x[1] + x[0].Expand(-1, 4).Unsqueeze(0), [Input.Randn(19, 3, 1), Input.Randn(20, 2, 3, 4)]);

    [Fact]
    public void UnsqueezeAndSqueeze()
        => GradCheck.Assert(x => x[0].Unsqueeze(1).Unsqueeze(-1) * x[1] + x[2].Squeeze(1).Squeeze(-1).Unsqueeze(1).Unsqueeze(3) + x[0].Unsqueeze(0).Squeeze(0).Unsqueeze(1).Unsqueeze(3),
            [Input.Randn(21, 2, 3), Input.Randn(22, 2, 1, 3, 1), Input.Randn(23, 2, 1, 3, 1)]);

    [Fact]
    public void SqueezeOfNonUnitDimIsIdentity() => GradCheck.Assert(x => x[0].Squeeze(0) * 2f, [Input.Randn(24, 3, 2)]);

    [Fact]
    public void Contiguous()
    {
        var leaf = Input.Randn(25, 3, 4);
        using (var c = leaf.Contiguous())
            Assert.Equal(leaf.DataPointer, c.DataPointer);
        GradCheck.Assert(x => x[0].Contiguous() * x[0].Transpose(0, 1).Contiguous().Transpose(0, 1), [leaf]);
    }

    [Fact]
    public void Clone()
    {
        var leaf = Input.Randn(26, 3, 4);
        using (var c = leaf.Clone())
        {
            Assert.NotEqual(leaf.DataPointer, c.DataPointer);
            Assert.Equal(leaf.ToFloatArray(), c.ToFloatArray());
        }
        GradCheck.Assert(x => x[0].Clone() * x[0].Transpose(0, 1).Clone().Transpose(0, 1), [leaf]);
    }

    [Fact]
    public void Cat()
        => GradCheck.Assert(x => RawLongLoRA.Cat.Concat(1, x[0], x[1], x[2]) * x[3], [Input.Randn(27, 2, 3), Input.Randn(28, 2, 1), Input.Randn(29, 2, 2), Input.Randn(30, 2, 6)]);

    [Fact]
    public void CatOfViewsAlongEveryDim()
    {
        GradCheck.Assert(x => RawLongLoRA.Cat.Concat(0, x[0].Transpose(0, 1), x[1].Narrow(0, 1, 2), x[0].Narrow(0, 0, 1).Expand(4, 3).Narrow(0, 0, 3)), [Input.Randn(31, 3, 3), Input.Randn(32, 4, 3)]);
        GradCheck.Assert(x => RawLongLoRA.Cat.Concat(-1, x[0], Input.Strided(x[0]), x[1].Permute(1, 2, 0)), [Input.Randn(33, 2, 3, 2), Input.Randn(34, 4, 2, 3)]);
    }

    [Fact]
    public void CatOfOneTensorTwice() => GradCheck.Assert(x => RawLongLoRA.Cat.Concat(0, x[0], x[0].Square(), x[0]), [Input.Randn(38, 2, 3)]);

    [Fact]
    public void CatWhereOnePartIsConstant()
    {
        using var c = Tensor.Randn([2, 2], new Generator(35));
        var a = Input.Randn(36, 2, 3);
        GradCheck.Assert(x => RawLongLoRA.Cat.Concat(1, x[0], x[1]).Square(), [a, c]);
        Assert.Null(c.Grad);
    }

    [Fact]
    public void DetachStopsTheGradient()
    {
        var a = Input.Randn(37, 3);
        var d = a.Detach();
        Assert.False(d.RequiresGrad);
        (a * d).Sum().Backward();
        Assert.Equal(a.ToFloatArray(), a.Grad!.ToFloatArray());
    }
}
