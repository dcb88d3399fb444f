using RawLongLoRA.Kernels.Cpu;
using Xunit;

namespace RawLongLoRA.Tests.Kernels;

/// <summary>
/// The flash-style CPU attention against the float64 reference, for every mask it serves, through the
/// public entry points and at each vector width the kernel can run at (whatever this CPU has natively).
/// </summary>
public sealed unsafe class AttentionKernelTests
{
    /// <summary>Max |kernel − reference| over max |reference|, per tensor.</summary>
    private const double Tolerance = 1e-5;

    [Theory]
    [InlineData(1, 64, 4, 32)]
    [InlineData(2, 130, 4, 32)]
    public void FullCausalMatchesReference(int b, int t, int h, int d)
        => AssertMatchesReference(b, t, t, h, h, d, AttentionSpec.Causal);

    [Theory]
    [InlineData(4, 2)]
    [InlineData(8, 1)]
    public void GroupedQueryHeadsMatchReference(int hq, int hkv)
        => AssertMatchesReference(2, 70, 70, hq, hkv, 16, AttentionSpec.Causal);

    public static TheoryData<int, int> OddSizes()
    {
        var data = new TheoryData<int, int>();
        foreach (int t in new[] { 1, 7, 33, 65 })
            foreach (int d in new[] { 8, 16, 64, 80 })
                data.Add(t, d);
        return data;
    }

    [Theory]
    [MemberData(nameof(OddSizes))]
    public void OddSizesMatchReference(int t, int d)
        => AssertMatchesReference(1, t, t, 2, 1, d, AttentionSpec.Causal);

    [Theory]
    [InlineData(1, 37)]
    [InlineData(5, 37)]
    [InlineData(3, 150)]
    // Decoding: one to four queries per head take the row-at-a-time path, over many key blocks.
    [InlineData(1, 300)]
    [InlineData(4, 301)]
    [InlineData(68, 300)]
    public void KvCacheOffsetMatchesReference(int t, int s)
        => AssertMatchesReference(2, t, s, 4, 2, 16, new AttentionSpec { QueryStart = s - t });

    [Theory]
    // Row 1 (from 100) starts a sequence without being listed; the one from 90 runs to the end of row 0; 170 is one token long.
    [InlineData(new[] { 0, 13, 40, 90, 130, 170, 171 })]
    [InlineData(new[] { 70 })]
    [InlineData(new int[0])]
    public void PackedSequencesMatchReference(int[] starts)
        => AssertMatchesReference(2, 100, 100, 4, 2, 16, new AttentionSpec { SequenceStarts = PackedStarts.Of(starts, 2 * 100) });

    [Theory]
    [InlineData(50, false)]
    [InlineData(100, false)]
    [InlineData(2, false)]
    [InlineData(50, true)]
    [InlineData(100, true)]
    [InlineData(2, true)]
    public void S2AttnGroupsMatchReference(int g, bool packed)
        => AssertMatchesReference(2, 200, 200, 4, 2, 16, new AttentionSpec { GroupSize = g, SequenceStarts = packed ? PackedStarts.Of([0, 37, 120, 260, 333], 2 * 200) : null });

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(8)]
    public void BackwardSplitIntoKeyTileChunksMatchesReference(int chunks)
        => AssertMatchesReference(2, 200, 200, 4, 2, 16, new AttentionSpec { GroupSize = 100 }, chunks);

    /// <summary>A call over one block of queries and one of keys of a longer row, by absolute position.</summary>
    [Theory]
    [InlineData("keys all before the queries")]
    [InlineData("keys all after the queries")]
    [InlineData("first queries before the keys")]
    [InlineData("S2 groups past the keys")]
    [InlineData("packed rows of a longer stream")]
    [InlineData("packed and S2 in a block")]
    [InlineData("heads of the shifted half")]
    [InlineData("heads across the halves")]
    [InlineData("decode rows before the keys")]
    [InlineData("decode rows past their group")]
    public void BlocksMatchReference(string block)
    {
        var starts = PackedStarts.Of([0, 37, 120, 260, 333], 2 * 200);
        var (t, s, spec) = block switch
        {
            "keys all before the queries" => (64, 64, new AttentionSpec { QueryStart = 128 }),
            "keys all after the queries" => (64, 64, new AttentionSpec { KeyStart = 64 }),
            "first queries before the keys" => (100, 60, new AttentionSpec { QueryStart = 30, KeyStart = 50 }),
            "S2 groups past the keys" => (100, 60, new AttentionSpec { QueryStart = 30, KeyStart = 50, RowLength = 160, GroupSize = 40 }),
            "packed rows of a longer stream" => (100, 80, new AttentionSpec { QueryStart = 100, KeyStart = 60, RowLength = 200, SequenceStarts = starts }),
            "packed and S2 in a block" => (100, 80, new AttentionSpec { QueryStart = 100, KeyStart = 60, RowLength = 200, SequenceStarts = starts, GroupSize = 50 }),
            "heads of the shifted half" => (200, 200, new AttentionSpec { GroupSize = 50, HeadStart = 4, TotalHeads = 8 }),
            // Global heads 1–4 of 8: the last is in the shifted half (a split need not follow the kv heads; the mask does not care).
            "heads across the halves" => (200, 200, new AttentionSpec { GroupSize = 50, HeadStart = 1, TotalHeads = 8 }),
            "decode rows before the keys" => (3, 40, new AttentionSpec { KeyStart = 2 }),
            "decode rows past their group" => (2, 40, new AttentionSpec { QueryStart = 50, RowLength = 80, GroupSize = 40 }),
            _ => throw new ArgumentOutOfRangeException(nameof(block)),
        };
        AssertMatchesReference(2, t, s, 4, 2, 16, spec);
    }

    [Fact]
    public void LseGradientMatchesReference()
    {
        // A block whose first queries see no key: their lse is −∞ and their dlse must not reach anything.
        const int b = 2, t = 100, s = 60, hq = 4, hkv = 2, d = 16;
        var spec = new AttentionSpec { QueryStart = 30, KeyStart = 50, RowLength = 160, GroupSize = 40 };
        var rng = new Random(5);
        float[] q = Fill(rng, b * t * hq * d, 2f), k = Fill(rng, b * s * hkv * d, 2f), v = Fill(rng, b * s * hkv * d, 1f);
        float[] dout = Fill(rng, b * t * hq * d, 1f), dlse = Fill(rng, b * hq * t, 1f);
        var (dqRef, dkRef, dvRef) = AttentionReference.Backward(dout, q, k, v, b, t, s, hq, hkv, d, spec, dlse);
        float[] o = new float[q.Length], lse = new float[dlse.Length], dq = Nans(q.Length), dk = Nans(k.Length), dv = Nans(v.Length);
        fixed (float* po = o, pl = lse, pq = q, pk = k, pv = v, pdo = dout, pdl = dlse, pdq = dq, pdk = dk, pdv = dv)
        {
            Attention.Forward(po, pl, pq, pk, pv, b, t, s, hq, hkv, d, spec);
            Attention.Backward(pdq, pdk, pdv, pdo, pq, pk, pv, po, pl, b, t, s, hq, hkv, d, spec, pdl);
        }
        AssertClose(dqRef, dq, "dq");
        AssertClose(dkRef, dk, "dk");
        AssertClose(dvRef, dv, "dv");
        var (dqNoLse, _, _) = AttentionReference.Backward(dout, q, k, v, b, t, s, hq, hkv, d, spec);
        Assert.NotEqual(dqNoLse, dqRef);
    }

    [Fact]
    public void ShiftedHalfOfTheHeadsSeesAcrossTheUnshiftedGroupBoundary()
    {
        // T = 8, G = 4: query 5 of head 0 sees keys [4, 5]; of head 1 (groups [0,2), [2,6), [6,8)) keys [2, 5].
        const int t = 8, hq = 2, d = 8;
        var spec = new AttentionSpec { GroupSize = 4 };
        var rng = new Random(7);
        float[] q = Fill(rng, t * hq * d, 2f), k = Fill(rng, t * d, 2f), v = Fill(rng, t * d, 1f);
        float[] before = Forward(q, k, v, 1, t, t, hq, 1, d, spec);
        v[3 * d] += 1f;
        float[] after = Forward(q, k, v, 1, t, t, hq, 1, d, spec);

        float Out(float[] o, int query, int head) => o[(query * hq + head) * d];
        Assert.Equal(Out(before, 5, 0), Out(after, 5, 0));
        Assert.NotEqual(Out(before, 5, 1), Out(after, 5, 1));
        Assert.Equal(Out(before, 6, 1), Out(after, 6, 1));
    }

    [Fact]
    public void S2AttnWithQuarterGroupsDoesAboutAQuarterOfTheWork()
    {
        const int t = 1024, hq = 2, d = 16;
        var rng = new Random(3);
        float[] q = Fill(rng, t * hq * d, 1f), k = Fill(rng, t * d, 1f), v = Fill(rng, t * d, 1f), dout = Fill(rng, t * hq * d, 1f);
        var o = new float[q.Length];
        var lse = new float[hq * t];
        var (dq, dk, dv) = (new float[q.Length], new float[k.Length], new float[v.Length]);

        (long Forward, long Backward) Work(AttentionSpec spec)
        {
            fixed (float* po = o, pl = lse, pq = q, pk = k, pv = v, pdo = dout, pdq = dq, pdk = dk, pdv = dv)
                return (Attention.ForwardCounted<V256>(po, pl, pq, pk, pv, 1, t, t, hq, 1, d, spec),
                    Attention.BackwardCounted<V256>(pdq, pdk, pdv, pdo, pq, pk, pv, po, pl, 1, t, t, hq, 1, d, spec, chunks: 1));
        }

        var full = Work(AttentionSpec.Causal);
        var s2 = Work(new AttentionSpec { GroupSize = t / 4 });
        // Exact masked work is 1/4 (a bit more, the diagonal tiles); full causal must cover at least the T²/2 scores per head.
        Assert.True(full.Forward >= (long)hq * t * t / 2, $"full causal forward computed only {full.Forward} scores");
        Assert.InRange((double)s2.Forward / full.Forward, 0.2, 0.3);
        Assert.InRange((double)s2.Backward / full.Backward, 0.2, 0.3);
    }

    [Theory]
    [InlineData("odd group", "GroupSize")]
    [InlineData("group not dividing T", "GroupSize")]
    [InlineData("group not dividing the row", "GroupSize")]
    [InlineData("groups over an odd total of heads", "TotalHeads")]
    [InlineData("descending starts", "SequenceStarts")]
    [InlineData("start past the end", "SequenceStarts")]
    [InlineData("start past the given rows", "SequenceStarts")]
    [InlineData("int64 starts", "SequenceStarts")]
    [InlineData("starts of rank 2", "SequenceStarts")]
    [InlineData("negative query start", "QueryStart")]
    [InlineData("row shorter than the keys", "RowLength")]
    [InlineData("heads past the total", "HeadStart")]
    [InlineData("heads not a multiple of kv heads", "Hkv")]
    public void BadSpecThrowsNamingTheField(string problem, string field)
    {
        const int t = 16;
        var (spec, s, hkv) = problem switch
        {
            "odd group" => (new AttentionSpec { GroupSize = 3 }, t, 2),
            "group not dividing T" => (new AttentionSpec { GroupSize = 6 }, t, 2),
            "group not dividing the row" => (new AttentionSpec { GroupSize = 4, KeyStart = 32, QueryStart = 32, RowLength = 50 }, t, 2),
            "groups over an odd total of heads" => (new AttentionSpec { GroupSize = 4, TotalHeads = 9 }, t, 2),
            // Tensors made without PackedStarts.Of, which would refuse the first three: the kernel checks them itself.
            "descending starts" => (new AttentionSpec { SequenceStarts = Tensor.FromArray(new[] { 0, 10, 5 }) }, t, 2),
            "start past the end" => (new AttentionSpec { SequenceStarts = Tensor.FromArray(new[] { 0, 32 }) }, t, 2),
            "start past the given rows" => (new AttentionSpec { SequenceStarts = Tensor.FromArray(new[] { 0, 100 }), RowLength = 40 }, t, 2),
            "int64 starts" => (new AttentionSpec { SequenceStarts = Tensor.FromArray(new long[] { 0, 5 }) }, t, 2),
            "starts of rank 2" => (new AttentionSpec { SequenceStarts = Tensor.FromArray(new[] { 0, 5 }, [1, 2]) }, t, 2),
            "negative query start" => (new AttentionSpec { QueryStart = -1 }, t, 2),
            "row shorter than the keys" => (new AttentionSpec { KeyStart = 10, RowLength = 20 }, t, 2),
            "heads past the total" => (new AttentionSpec { HeadStart = 6, TotalHeads = 8 }, t, 2),
            "heads not a multiple of kv heads" => (AttentionSpec.Causal, t, 3),
            _ => throw new ArgumentOutOfRangeException(nameof(problem)),
        };
        var forward = Assert.Throws<ArgumentException>(() => Attention.Forward(null, null, null, null, null, 2, t, s, 4, hkv, 16, spec));
        Assert.Contains(field, forward.Message);
        var backward = Assert.Throws<ArgumentException>(() => Attention.Backward(null, null, null, null, null, null, null, null, null, 2, t, s, 4, hkv, 16, spec));
        Assert.Contains(field, backward.Message);
    }

    private static void AssertMatchesReference(int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec, int chunks = 1)
    {
        var rng = new Random(1000 * t + d);
        float[] q = Fill(rng, b * t * hq * d, 2f), k = Fill(rng, b * s * hkv * d, 2f);
        float[] v = Fill(rng, b * s * hkv * d, 1f), dout = Fill(rng, b * t * hq * d, 1f);
        var (oRef, lseRef) = AttentionReference.Forward(q, k, v, b, t, s, hq, hkv, d, spec);
        var (dqRef, dkRef, dvRef) = AttentionReference.Backward(dout, q, k, v, b, t, s, hq, hkv, d, spec);
        // dq and dk sum P ⊙ (dP − D) / √d times k or q, where dP = dO·v and D = dO·o are as large as
        // |dO|·|v| and may cancel exactly (a single key: P = 1, o = v, so dq = 0); float32 leaves rounding
        // noise of those terms' size, so they, not the (possibly zero) result, set dq's and dk's scale.
        double cancellation = MaxRowNorm(dout, d) * MaxRowNorm(v, d) / Math.Sqrt(d);

        foreach (var (width, run) in Widths(chunks))
        {
            // NaN-filled outputs show any element the kernel fails to write.
            float[] o = Nans(oRef.Length), lse = Nans(lseRef.Length), dq = Nans(q.Length), dk = Nans(k.Length), dv = Nans(v.Length);
            fixed (float* po = o, pl = lse, pq = q, pk = k, pv = v, pdo = dout, pdq = dq, pdk = dk, pdv = dv)
                run(new Call(po, pl, pq, pk, pv, pdo, pdq, pdk, pdv, b, t, s, hq, hkv, d, spec));
            AssertClose(oRef, o, $"o ({width})");
            AssertClose(lseRef, lse, $"lse ({width})");
            AssertClose(dqRef, dq, $"dq ({width})", cancellation * MaxAbs(k));
            AssertClose(dkRef, dk, $"dk ({width})", cancellation * MaxAbs(q));
            AssertClose(dvRef, dv, $"dv ({width})");
        }
    }

    /// <summary>The public entry points (native width, chunks of their choice), then each width with the given chunks.</summary>
    private static IEnumerable<(string Width, Action<Call> Run)> Widths(int chunks) =>
    [
        ("public", c => c.Public()),
        ("V512", c => c.At<V512>(chunks)),
        ("V256", c => c.At<V256>(chunks)),
        ("V128", c => c.At<V128>(chunks)),
    ];

    /// <summary>One forward and backward's arguments, so that each width runs the same call.</summary>
    private readonly struct Call(float* o, float* lse, float* q, float* k, float* v, float* dout, float* dq, float* dk, float* dv, int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec)
    {
        public void Public()
        {
            Attention.Forward(o, lse, q, k, v, b, t, s, hq, hkv, d, spec);
            Attention.Backward(dq, dk, dv, dout, q, k, v, o, lse, b, t, s, hq, hkv, d, spec);
        }

        public void At<TV>(int chunks)
            where TV : unmanaged, IVec<TV>
        {
            Attention.ForwardCounted<TV>(o, lse, q, k, v, b, t, s, hq, hkv, d, spec);
            Attention.BackwardCounted<TV>(dq, dk, dv, dout, q, k, v, o, lse, b, t, s, hq, hkv, d, spec, chunks);
        }
    }

    private static void AssertClose(float[] expected, float[] actual, string name, double scaleFloor = 0)
        => Ops.AssertClose(name, Array.ConvertAll(expected, x => (double)x), Array.ConvertAll(actual, x => (double)x), Tolerance, scaleFloor);

    private static double MaxAbs(float[] x) => x.Max(MathF.Abs);

    /// <summary>The largest Euclidean norm of the rows of length <paramref name="d"/> in <paramref name="x"/>.</summary>
    private static double MaxRowNorm(float[] x, int d)
        => Enumerable.Range(0, x.Length / d).Max(r => Math.Sqrt(x.AsSpan(r * d, d).ToArray().Sum(e => (double)e * e)));

    private static float[] Forward(float[] q, float[] k, float[] v, int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec)
    {
        var o = new float[q.Length];
        var lse = new float[b * hq * t];
        fixed (float* po = o, pl = lse, pq = q, pk = k, pv = v)
            Attention.Forward(po, pl, pq, pk, pv, b, t, s, hq, hkv, d, spec);
        return o;
    }

    private static float[] Fill(Random rng, int n, float range)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++)
            x[i] = (float)(rng.NextDouble() * 2 - 1) * range;
        return x;
    }

    private static float[] Nans(int n)
    {
        var x = new float[n];
        Array.Fill(x, float.NaN);
        return x;
    }
}
