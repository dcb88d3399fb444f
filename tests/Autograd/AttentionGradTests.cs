using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Causal attention q [B, T, Hq, D], k and v [B, S, Hkv, D] with every mask of AttentionSpec, at small sizes.</summary>
public class AttentionGradTests
{
    private static void Check(int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec, ulong seed)
        => GradCheck.Assert(x => x[0].Attention(x[1], x[2], spec),
            [Input.Randn(seed, b, t, hq, d), Input.Randn(seed + 1, b, s, hkv, d), Input.Randn(seed + 2, b, s, hkv, d)]);

    [Fact]
    public void Causal() => Check(1, 5, 5, 2, 2, 4, AttentionSpec.Causal, 1);

    [Fact]
    public void CausalBatched() => Check(2, 4, 4, 1, 1, 3, AttentionSpec.Causal, 4);

    [Fact]
    public void GroupedQueryHeads() => Check(2, 4, 4, 4, 2, 4, AttentionSpec.Causal, 7);

    [Fact]
    public void MultiQuery() => Check(1, 4, 4, 3, 1, 4, AttentionSpec.Causal, 10);

    [Fact]
    public void S2Groups() => Check(1, 8, 8, 2, 2, 4, new AttentionSpec { GroupSize = 4 }, 13);

    [Fact]
    public void S2GroupsWithGqa() => Check(2, 8, 8, 4, 2, 4, new AttentionSpec { GroupSize = 2 }, 16);

    [Fact]
    public void SequenceStarts() => Check(2, 6, 6, 2, 1, 4, new AttentionSpec { SequenceStarts = PackedStarts.Of([0, 2, 6, 9], 2 * 6) }, 19);

    [Fact]
    public void SequenceStartsWithS2Groups() => Check(2, 8, 8, 2, 2, 4, new AttentionSpec { GroupSize = 4, SequenceStarts = PackedStarts.Of([3, 8, 13], 2 * 8) }, 22);

    [Fact]
    public void KvCacheQueryStart() => Check(1, 3, 7, 2, 2, 4, new AttentionSpec { QueryStart = 4 }, 25);

    [Fact]
    public void KvCacheQueryStartWithGqa() => Check(2, 2, 5, 4, 2, 4, new AttentionSpec { QueryStart = 3 }, 28);

    [Fact]
    public void OneQueryDecodingStep() => Check(2, 1, 5, 2, 1, 4, new AttentionSpec { QueryStart = 4 }, 47);

    [Fact]
    public void CustomScale() => Check(1, 4, 4, 2, 2, 4, new AttentionSpec { Scale = 0.9f }, 31);

    [Fact]
    public void OnlyQueryWantsGrad()
    {
        using var k = Tensor.Randn([1, 4, 2, 4], new Generator(34));
        using var v = Tensor.Randn([1, 4, 2, 4], new Generator(35));
        GradCheck.Assert(x => x[0].Attention(x[1], x[2]), [Input.Randn(36, 1, 4, 2, 4), k, v]);
        Assert.Null(k.Grad);
        Assert.Null(v.Grad);
    }

    [Fact]
    public void FirstQuerySeesOnlyItself()
    {
        // Causal: output row 0 is v row 0 exactly (one visible key).
        using var q = Tensor.Randn([1, 3, 1, 4], new Generator(37));
        using var k = Tensor.Randn([1, 3, 1, 4], new Generator(38));
        using var v = Tensor.Randn([1, 3, 1, 4], new Generator(39));
        var o = q.Attention(k, v).ToFloatArray();
        var vv = v.ToFloatArray();
        for (int c = 0; c < 4; c++)
            Assert.Equal(vv[c], o[c], 6);
    }

    [Fact]
    public void BackwardKeepsThePackedStartsTheCallerHasDisposed()
    {
        float[] Dq(bool disposeEarly)
        {
            using var scope = new DisposeScope();
            var q = Tensor.Randn([1, 8, 2, 4], new Generator(51), requiresGrad: true);
            var k = Tensor.Randn([1, 8, 1, 4], new Generator(52));
            var v = Tensor.Randn([1, 8, 1, 4], new Generator(53));
            var starts = PackedStarts.Of([0, 3], 8);
            var o = q.Attention(k, v, new AttentionSpec { SequenceStarts = starts });
            if (disposeEarly)
                starts.Dispose();
            (o * o).Sum().Backward();
            return q.Grad!.ToFloatArray();
        }

        Assert.Equal(Dq(false), Dq(true));
    }

    // ---- non-contiguous inputs

    [Fact]
    public void HeadsFirstLeavesPermuted()
    {
        // Leaves in [B, H, T, D], the layout after a head split and transpose, permuted to [B, T, H, D].
        var spec = new AttentionSpec { GroupSize = 2 };
        GradCheck.Assert(x => x[0].Permute(0, 2, 1, 3).Attention(x[1].Permute(0, 2, 1, 3), x[2].Permute(0, 2, 1, 3), spec),
            [Input.Randn(40, 1, 4, 4, 3), Input.Randn(41, 1, 2, 4, 3), Input.Randn(42, 1, 2, 4, 3)]);
    }

    [Fact]
    public void FusedQkvNarrowed()
    {
        // One fused qkv projection [B, T, Hq + 2·Hkv, D] split along heads: three narrow views of one leaf.
        GradCheck.Assert(x => x[0].Narrow(2, 0, 2).Attention(x[0].Narrow(2, 2, 1), x[0].Narrow(2, 3, 1)),
            [Input.Randn(43, 2, 4, 4, 4)]);
    }

    [Fact]
    public void StridedAndExpandedInputs()
        => GradCheck.Assert(x => Input.Strided(x[0]).Attention(x[1].Expand(1, 4, 2, 4), Input.Strided(x[2]), new AttentionSpec { SequenceStarts = PackedStarts.Of([2], 4) }),
            [Input.Randn(44, 1, 4, 2, 4), Input.Randn(45, 1, 4, 1, 4), Input.Randn(46, 1, 4, 2, 4)]);
}
