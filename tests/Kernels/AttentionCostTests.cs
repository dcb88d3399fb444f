using RawLongLoRA.Kernels.Profiling;
using Xunit;

namespace RawLongLoRA.Tests.Kernels;

/// <summary>The profiler's attention FLOPs (visible pairs of the mask) for calls over position blocks.</summary>
public sealed class AttentionCostTests
{
    [Fact]
    public void BlocksOfARowCostWhatOneCallCosts()
    {
        const int b = 2, t = 96, hq = 4, hkv = 2, d = 8;
        var spec = new AttentionSpec { GroupSize = 32, SequenceStarts = PackedStarts.Of([0, 20, 70, 106, 150], b * t) };
        using var scope = new DisposeScope();
        double whole = KernelCost.AttentionFlops(Tensor.Empty([b, t, hq, d]), Tensor.Empty([b, t, hkv, d]), spec)!.Value;
        int[] bounds = [0, 5, 29, 30, 64, 96];
        double blocks = 0;
        for (int h0 = 0; h0 < hq; h0 += 2)
            for (int qb = 0; qb + 1 < bounds.Length; qb++)
                for (int kb = 0; kb + 1 < bounds.Length; kb++)
                {
                    var block = spec with { QueryStart = bounds[qb], KeyStart = bounds[kb], RowLength = t, HeadStart = h0, TotalHeads = hq };
                    var q = Tensor.Empty([b, bounds[qb + 1] - bounds[qb], 2, d]);
                    var k = Tensor.Empty([b, bounds[kb + 1] - bounds[kb], 1, d]);
                    blocks += KernelCost.AttentionFlops(q, k, block)!.Value;
                }
        Assert.True(whole > 0);
        Assert.Equal(whole, blocks);
    }

    [Fact]
    public void PackedStartsOffTheHostAreNotReadToCount()
    {
        var (device, strict) = StrictDevice.New();
        using var scope = new DisposeScope();
        var spec = new AttentionSpec { SequenceStarts = PackedStarts.Of([0, 20], 2 * 96, device) };
        strict.ResetCounts();
        Assert.Null(KernelCost.AttentionFlops(Tensor.Empty([2, 96, 4, 8]), Tensor.Empty([2, 96, 2, 8]), spec));
        Assert.Equal(0, strict.DeviceToHost);
    }

    [Fact]
    public void KeysInTheFutureCostNothing()
    {
        using var scope = new DisposeScope();
        var spec = new AttentionSpec { KeyStart = 16 };
        Assert.Equal(0, KernelCost.AttentionFlops(Tensor.Empty([1, 16, 2, 8]), Tensor.Empty([1, 16, 2, 8]), spec));
    }
}
