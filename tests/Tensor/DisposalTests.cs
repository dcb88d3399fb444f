using Xunit;

namespace RawLongLoRA.Tests;

[Collection(SerialCollection.Name)]
public class DisposalTests
{
    [Fact]
    public void ScopeFreesWhatItCreatedUnlessMovedOut()
    {
        Storage inner, kept;
        Tensor survivor;
        using (new DisposeScope())
        {
            var a = Tensor.Ones([4, 4]);
            inner = a.Storage;
            survivor = (a * 2f).MoveToOuterScope();
            kept = survivor.Storage;
        }
        Assert.True(inner.IsFreed);
        Assert.False(kept.IsFreed);
        Assert.Equal(2f, survivor.ToFloatArray()[0]);
        survivor.Dispose();
        Assert.True(kept.IsFreed);
    }

    [Fact]
    public void ViewsKeepStorageAliveUntilTheLastHandleGoes()
    {
        var x = Tensor.Zeros([3, 3]);
        var storage = x.Storage;
        var t = x.Transpose(0, 1);
        x.Dispose();
        Assert.False(storage.IsFreed);
        Assert.Equal(9, t.ToFloatArray().Length);
        t.Dispose();
        Assert.True(storage.IsFreed);
    }

    [Fact]
    public void ForwardAndBackwardInAScopeLeaveOnlyTheGradients()
    {
        var w = Tensor.Randn([8, 8], new Generator(3), requiresGrad: true);
        var norm = Tensor.Ones([8], requiresGrad: true);
        long before = Storage.LiveCount;
        using (new DisposeScope())
        {
            var x = Tensor.Randn([4, 8], new Generator(4));
            var h = x.Linear(w).RmsNorm(norm, 1e-5f).Silu();
            var loss = (h * h).Mean();
            loss.Backward();
        }
        Assert.Equal(before + 2, Storage.LiveCount);
        Assert.NotNull(w.Grad);
        Assert.NotNull(norm.Grad);
        w.Grad!.Dispose();
        norm.Grad!.Dispose();
        Assert.Equal(before, Storage.LiveCount);
        w.Dispose();
        norm.Dispose();
    }

    [Fact]
    public void NestedScopesEndInnermostFirst()
    {
        var outer = new DisposeScope();
        var inner = new DisposeScope();
        Assert.Throws<InvalidOperationException>(outer.Dispose);
        var t = Tensor.Ones([2]).MoveToOuterScope();
        inner.Dispose();
        Assert.False(t.IsDisposed);
        outer.Dispose();
        Assert.True(t.IsDisposed);
    }

    [Fact]
    public void UseAfterDisposeNamesTheTensor()
    {
        var x = Tensor.Ones([2, 3]);
        x.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => x.ToFloatArray());
        Assert.Contains("[2, 3]", e.Message);
        var f = Assert.Throws<ObjectDisposedException>(() => Tensor.Ones([2, 3]).Add(x));
        Assert.Contains("add", f.Message);
    }
}
