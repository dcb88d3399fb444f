using Xunit;

namespace RawLongLoRA.Tests;

public class EngineTests
{
    [Fact]
    public void GradientsAccumulateAcrossBackwardCalls()
    {
        var x = Tensor.FromArray([1f, 2f, 3f], requiresGrad: true);
        (x * 2f).Sum().Backward();
        (x * 3f).Sum().Backward();
        Assert.Equal([5f, 5f, 5f], x.Grad!.ToFloatArray());
    }

    [Fact]
    public void AnInputUsedTwiceGetsBothContributions()
    {
        var x = Tensor.FromArray([1f, -2f, 3f], requiresGrad: true);
        var y = x * x + x;
        y.Sum().Backward();
        Assert.Equal([3f, -3f, 7f], x.Grad!.ToFloatArray());
    }

    [Fact]
    public void BroadcastGradientsAreSummedBackToShape()
    {
        var a = Tensor.Ones([2, 3], requiresGrad: true);
        var b = Tensor.FromArray([1f, 2f, 3f], requiresGrad: true);
        var c = Tensor.FromArray([10f, 20f], [2, 1], requiresGrad: true);
        (a * b + c).Sum().Backward();
        Assert.Equal([1f, 2f, 3f, 1f, 2f, 3f], a.Grad!.ToFloatArray());
        Assert.Equal([2f, 2f, 2f], b.Grad!.ToFloatArray());
        Assert.Equal([2, 1], c.Grad!.ShapeArray);
        Assert.Equal([3f, 3f], c.Grad.ToFloatArray());
    }

    [Fact]
    public void NoGradRecordsNothing()
    {
        var x = Tensor.Ones([2], requiresGrad: true);
        Tensor y;
        using (Autograd.NoGrad())
            y = x * 2f;
        Assert.False(y.RequiresGrad);
        Assert.Null(y.GradFn);
        Assert.True(Autograd.IsGradEnabled);
    }

    [Fact]
    public void DetachStopsTheGradient()
    {
        var x = Tensor.FromArray([2f], requiresGrad: true);
        var y = x * x.Detach();
        y.Sum().Backward();
        Assert.Equal([2f], x.Grad!.ToFloatArray());
    }

    [Fact]
    public void FrozenInputsGetNoGradientAndRecordNothing()
    {
        var w = Tensor.Randn([4, 3], new Generator(1));
        var x = Tensor.Randn([2, 3], new Generator(2), requiresGrad: true);
        var frozenOnly = Tensor.Randn([2, 3], new Generator(3)).Linear(w);
        Assert.Null(frozenOnly.GradFn);
        x.Linear(w).Sum().Backward();
        Assert.Null(w.Grad);
        Assert.NotNull(x.Grad);
    }

    [Fact]
    public void BackwardNeedsAScalarOrAGradient()
    {
        var x = Tensor.Ones([3], requiresGrad: true);
        var y = x * 2f;
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("non-scalar", e.Message);
        y.Backward(Tensor.FromArray([1f, 0f, 2f]));
        Assert.Equal([2f, 0f, 4f], x.Grad!.ToFloatArray());
        Assert.Throws<InvalidOperationException>(() => Tensor.Ones([1]).Backward());
    }

    [Fact]
    public void LeafGradientsAreContiguousAndOwned()
    {
        var x = Tensor.Ones([3, 2], requiresGrad: true);
        x.Transpose(0, 1).Sum().Backward();
        Assert.True(x.Grad!.IsContiguous);
        Assert.Equal(1, x.Grad.Storage.RefCount);
    }

    [Fact]
    public void RequiresGradOnlyForFloatLeaves()
    {
        var ids = Tensor.Arange(3);
        Assert.Throws<InvalidOperationException>(() => ids.RequiresGrad = true);
        var x = Tensor.Ones([2], requiresGrad: true);
        var y = x * 2f;
        Assert.Throws<InvalidOperationException>(() => y.RequiresGrad = false);
    }
}
