using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Attention over a row computed as blocks of queries against blocks of keys — in any order, zig-zag
/// included, with the heads split too — and merged (AttentionPart.Merge) equals one call over the row, in
/// values and in the gradients of q, k and v, for every mask kind, with grouped-query heads; and the merge's
/// gradient against finite differences.
/// </summary>
public class AttentionBlocksTests
{
    private const int B = 2, T = 96, Hq = 4, Hkv = 2, D = 8;

    /// <summary>Max |blocks − one call| over max |one call|, per tensor: float32 rounding of a few merges, far below a wrong mask's O(1).</summary>
    private const double Tolerance = 1e-5;

    private static AttentionSpec Mask(string mask) => mask switch
    {
        "causal" => AttentionSpec.Causal,
        // Row 1 starts at 96: a sequence runs over from row 0's last start (70) to its end.
        "packed" => new AttentionSpec { SequenceStarts = PackedStarts.Of([0, 20, 70, 106, 150], B * T) },
        "S2" => new AttentionSpec { GroupSize = 32 },
        "S2 packed" => new AttentionSpec { GroupSize = 32, SequenceStarts = PackedStarts.Of([0, 20, 70, 106, 150], B * T) },
        _ => throw new ArgumentOutOfRangeException(nameof(mask)),
    };

    public static TheoryData<string, string> MasksAndOrders()
    {
        var data = new TheoryData<string, string>();
        foreach (string mask in new[] { "causal", "packed", "S2", "S2 packed" })
            foreach (string order in new[] { "in order", "keys reversed", "uneven, shuffled", "uneven, shuffled, heads split" })
                data.Add(mask, order);
        return data;
    }

    [Theory]
    [MemberData(nameof(MasksAndOrders))]
    public void BlocksMergedEqualOneCall(string mask, string order)
    {
        var spec = Mask(mask);
        int[] bounds = order == "in order" || order == "keys reversed" ? [0, 16, 32, 48, 64, 80, 96] : [0, 5, 29, 30, 64, 96];
        var rng = new Random(17);
        Func<int, int[]> keyOrder = order switch
        {
            "in order" => _ => Enumerable.Range(0, bounds.Length - 1).ToArray(),
            "keys reversed" => _ => Enumerable.Range(0, bounds.Length - 1).Reverse().ToArray(),
            _ => _ => Enumerable.Range(0, bounds.Length - 1).OrderBy(_ => rng.Next()).ToArray(),
        };
        int headSplits = order.EndsWith("heads split", StringComparison.Ordinal) ? 2 : 1;
        AssertEqualsOneCall(spec, (q, k, v) => Blocks(q, k, v, spec, bounds, keyOrder, headSplits));
    }

    public static TheoryData<string, int, bool> MasksAndSchedules()
    {
        var data = new TheoryData<string, int, bool>();
        foreach (string mask in new[] { "causal", "packed", "S2", "S2 packed" })
        {
            data.Add(mask, 4, true);
            data.Add(mask, 6, true);
            data.Add(mask, 3, false);
        }
        return data;
    }

    /// <summary>The model's strategy: ring order per rank, zig-zag or not, blocks wholly in the future skipped.</summary>
    [Theory]
    [MemberData(nameof(MasksAndSchedules))]
    public void BlockwiseStrategyEqualsOneCall(string mask, int blocks, bool zigZag)
    {
        var spec = Mask(mask);
        var strategy = new BlockwiseAttention(blocks, zigZag);
        AssertEqualsOneCall(spec, (q, k, v) => strategy.Forward(q, k, v, spec));
    }

    [Fact]
    public void MergeGradientMatchesFiniteDifferences()
    {
        // o and lse both weighted in the probed sum, so the merge's lse gradient and the kernel's dlse are checked.
        var spec = new AttentionSpec { GroupSize = 4, RowLength = 8 };
        GradCheck.Assert(x => AttentionPart.Merge(
                x[0].AttentionPart(x[1].Narrow(1, 3, 5), x[2].Narrow(1, 3, 5), spec with { KeyStart = 3 }),
                x[0].AttentionPart(x[1].Narrow(1, 0, 3), x[2].Narrow(1, 0, 3), spec)).Packed,
            [Input.Randn(60, 1, 8, 2, 4), Input.Randn(61, 1, 8, 1, 4), Input.Randn(62, 1, 8, 1, 4)]);
    }

    [Fact]
    public void MergeGradientWithPartsThatSeeNothing()
    {
        // Queries 0–3 see no key of the second part (lse −∞ there); only o is probed, lse being −∞.
        GradCheck.Assert(x => AttentionPart.Merge(
                x[0].AttentionPart(x[1].Narrow(1, 0, 4), x[2].Narrow(1, 0, 4), AttentionSpec.Causal),
                x[0].AttentionPart(x[1].Narrow(1, 4, 4), x[2].Narrow(1, 4, 4), new AttentionSpec { KeyStart = 4 })).O,
            [Input.Randn(63, 2, 8, 2, 4), Input.Randn(64, 2, 8, 2, 4), Input.Randn(65, 2, 8, 2, 4)]);
    }

    [Fact]
    public void MergingAPartThatSeesNothingChangesNothing()
    {
        using var scope = new DisposeScope();
        var q = Tensor.Randn([1, 6, 2, 4], new Generator(70));
        var k = Tensor.Randn([1, 6, 1, 4], new Generator(71));
        var v = Tensor.Randn([1, 6, 1, 4], new Generator(72));
        var seen = q.AttentionPart(k, v, AttentionSpec.Causal);
        // Keys at positions 6..11: in the future of every query.
        var unseen = q.AttentionPart(k, v, new AttentionSpec { KeyStart = 6 });
        Assert.All(unseen.Lse.ToFloatArray(), x => Assert.Equal(float.NegativeInfinity, x));
        Assert.Equal(seen.Packed.ToFloatArray(), AttentionPart.Merge(unseen, seen).Packed.ToFloatArray());
        Assert.Equal(seen.O.ToFloatArray(), q.Attention(k, v).ToFloatArray());
    }

    [Fact]
    public void PartsOfDifferentQueriesDoNotMerge()
    {
        using var scope = new DisposeScope();
        var q = Tensor.Randn([1, 6, 2, 4], new Generator(73));
        var k = Tensor.Randn([1, 6, 1, 4], new Generator(74));
        var a = q.AttentionPart(k, k, AttentionSpec.Causal);
        var b = q.Narrow(1, 0, 5).AttentionPart(k, k, AttentionSpec.Causal);
        var e = Assert.Throws<ArgumentException>(() => AttentionPart.Merge(a, b));
        Assert.Contains("attention_merge", e.Message);
        Assert.Contains("[1, 6, 2, 4] and [1, 5, 2, 4]", e.Message);
    }

    /// <summary>
    /// Attention of q over k, v cut at <paramref name="bounds"/> (the same cuts for queries and keys), each query
    /// block merging every key block in <paramref name="keyOrder"/>'s order — blocks in its future too, which
    /// add nothing — and the heads in <paramref name="headSplits"/> calls that each know their global heads.
    /// </summary>
    private static Tensor Blocks(Tensor q, Tensor k, Tensor v, AttentionSpec spec, int[] bounds, Func<int, int[]> keyOrder, int headSplits)
    {
        int hn = Hq / headSplits, group = Hq / Hkv;
        var heads = new Tensor[headSplits];
        for (int split = 0; split < headSplits; split++)
        {
            int h0 = split * hn;
            var outputs = new Tensor[bounds.Length - 1];
            for (int qb = 0; qb < outputs.Length; qb++)
            {
                int q0 = bounds[qb], qn = bounds[qb + 1] - q0;
                AttentionPart? merged = null;
                foreach (int kb in keyOrder(qb))
                {
                    int k0 = bounds[kb], kn = bounds[kb + 1] - k0;
                    var block = spec with { QueryStart = q0, KeyStart = k0, RowLength = T, HeadStart = h0, TotalHeads = Hq };
                    var part = q.Narrow(1, q0, qn).Narrow(2, h0, hn).AttentionPart(
                        k.Narrow(1, k0, kn).Narrow(2, h0 / group, hn / group), v.Narrow(1, k0, kn).Narrow(2, h0 / group, hn / group), block);
                    merged = merged is null ? part : AttentionPart.Merge(merged, part);
                }
                outputs[qb] = merged!.O;
            }
            heads[split] = Cat.Concat(1, outputs);
        }
        return Cat.Concat(2, heads);
    }

    private static void AssertEqualsOneCall(AttentionSpec spec, Func<Tensor, Tensor, Tensor, Tensor> attention)
    {
        using var scope = new DisposeScope();
        var q = Input.Randn(50, B, T, Hq, D);
        var k = Input.Randn(51, B, T, Hkv, D);
        var v = Input.Randn(52, B, T, Hkv, D);
        var w = Tensor.Randn([B, T, Hq, D], new Generator(53));
        var expected = Run(q, k, v, w, (q, k, v) => q.Attention(k, v, spec));
        var actual = Run(q, k, v, w, attention);
        string[] names = ["o", "dq", "dk", "dv"];
        for (int i = 0; i < names.Length; i++)
            AssertClose(expected[i], actual[i], names[i]);
    }

    /// <summary>o and the gradients of q, k, v for the loss Σ o ∘ w.</summary>
    private static float[][] Run(Tensor q, Tensor k, Tensor v, Tensor w, Func<Tensor, Tensor, Tensor, Tensor> attention)
    {
        foreach (var x in new[] { q, k, v })
            x.Grad = null;
        var o = attention(q, k, v);
        (o * w).Sum().Backward();
        return [o.ToFloatArray(), q.Grad!.ToFloatArray(), k.Grad!.ToFloatArray(), v.Grad!.ToFloatArray()];
    }

    private static void AssertClose(float[] expected, float[] actual, string name)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(x => Math.Abs((double)x)), error = 0;
        int worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = Math.Abs((double)actual[i] - expected[i]);
            if (!(e <= error))
                (error, worst) = (e, i);
        }
        Assert.True(scale > 0, $"{name}: the one call gave all zeros");
        Assert.True(error <= Tolerance * scale, $"{name}: max error {error:E2} at [{worst}] (blocks {actual[worst]}, one call {expected[worst]}), scale {scale:G3}");
    }
}
