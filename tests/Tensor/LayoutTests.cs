using Xunit;

namespace RawLongLoRA.Tests;

public class LayoutTests
{
    private static Tensor Iota(params int[] shape) => Tensor.Arange(0, Shapes.Numel(shape), 1, DType.F32).Reshape(shape);

    [Fact]
    public void TransposeIsAViewWithSwappedStrides()
    {
        var x = Iota(2, 3);
        var t = x.Transpose(0, 1);
        Assert.Same(x.Storage, t.Storage);
        Assert.Equal([3, 2], t.ShapeArray);
        Assert.Equal([1L, 3L], t.Strides.ToArray());
        Assert.Equal([0f, 3, 1, 4, 2, 5], t.ToFloatArray());
        Assert.False(t.IsContiguous);
    }

    [Fact]
    public void PermuteNarrowExpandPickTheRightElements()
    {
        var x = Iota(2, 3, 4);
        Assert.Equal(new float[] { 0, 12, 4, 16, 8, 20 }, x.Permute(2, 1, 0).Narrow(0, 0, 1).Reshape(-1).ToFloatArray()[..6]);
        var n = x.Narrow(2, 1, 2);
        Assert.Equal([2, 3, 2], n.ShapeArray);
        Assert.Equal(1, n.Layout.Offset);
        Assert.Equal([1f, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22], n.ToFloatArray());
        var e = Iota(3, 1).Expand(3, 4);
        Assert.Equal([1L, 0L], e.Strides.ToArray());
        Assert.Equal([0f, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2], e.ToFloatArray());
    }

    [Fact]
    public void ReshapeViewsWhenStridesChainAndCopiesOtherwise()
    {
        var x = Iota(4, 6);
        var narrowRows = x.Narrow(0, 1, 2);
        var v = narrowRows.Reshape(3, 4);
        Assert.Same(x.Storage, v.Storage);
        Assert.Equal(Enumerable.Range(6, 12).Select(i => (float)i), v.ToFloatArray());

        var t = x.Transpose(0, 1);
        Assert.Null(t.Layout.TryReshape([24]));
        var flat = t.Reshape(24);
        Assert.NotSame(x.Storage, flat.Storage);
        Assert.Equal(t.ToFloatArray(), flat.ToFloatArray());

        // Splitting a transposed dim into two is still a view.
        var split = t.Layout.TryReshape([2, 3, 4]);
        Assert.NotNull(split);
        Assert.Equal([3L, 1L, 6L], split!.Strides.ToArray());
    }

    [Fact]
    public void ReshapeInfersOneDimAndRejectsBadCounts()
    {
        Assert.Equal([2, 12], Iota(2, 3, 4).Reshape(2, -1).ShapeArray);
        var e = Assert.Throws<ArgumentException>(() => Iota(2, 3).Reshape(4, 2));
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4, 2]", e.Message);
        Assert.Throws<ArgumentException>(() => Iota(2, 3).Reshape(-1, -1));
    }

    [Fact]
    public void OutOfRangeViewsNameTheOpAndShape()
    {
        var x = Iota(2, 3);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => x.Narrow(1, 2, 2));
        Assert.Contains("narrow", e.Message);
        Assert.Contains("[2, 3]", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => x.Transpose(0, 2));
        var b = Assert.Throws<ArgumentException>(() => x.Expand(4, 3));
        Assert.Contains("expand", b.Message);
    }

    [Fact]
    public void UnsqueezeAndSqueezeRoundTrip()
    {
        var x = Iota(2, 3);
        var u = x.Unsqueeze(1);
        Assert.Equal([2, 1, 3], u.ShapeArray);
        Assert.Equal([2, 3], u.Squeeze(1).ShapeArray);
        Assert.Equal([2, 3, 1], x.Unsqueeze(-1).ShapeArray);
        Assert.Equal(x.ToFloatArray(), u.ToFloatArray());
    }
}
