using RawLongLoRA.Kernels.Cpu;
using Xunit;

namespace RawLongLoRA.Tests.Kernels;

/// <summary>
/// Attention at bf16 (vdpbf16ps pair tiles where the CPU has AVX512-BF16, and the float32 fallback on rounded
/// operands at every width) against <see cref="AttentionReference"/> with bf16 rounding at the same points.
/// The bounds come from bf16's rounding, not from a measured gap: kernel and reference round the same q, k,
/// v, dO, so the differences are (a) P and dS computed in float32 here and float64 there, which may round to
/// neighbouring bf16 values — one bf16 step, at most 2⁻⁷ of the value (the forward also rounds the unnormalised
/// exp(S − running max), not P, another such rounding) — so each output moves by at most 2⁻⁷ times the
/// magnitude of its sum (Σ|terms|, <see cref="AttentionReference.BackwardBounded"/>), and (b) float32 sums of up
/// to a few hundred bf16 products, under 2⁻¹⁶ of the largest magnitude. Shapes keep every query tile above
/// four rows: tiles of at most four rows (decoding) run at float32 (AttentionDecode.cs).
/// The kernel's exp errs by up to 2⁻¹⁷ relative (VMath.ExpFlushToZeroBf16; the reference uses Math.Exp), in P and dS
/// before rounding and in the forward's sum l: within <see cref="Step"/> still, since two nearest-even roundings to
/// bf16 differ by at most 2·(2⁻⁸ − 2⁻¹⁶) = 2⁻⁷ − 2⁻¹⁵ of the value, and 2⁻¹⁷ in P plus 2⁻¹⁷ in l stay below that 2⁻¹⁵.
/// </summary>
public sealed unsafe class AttentionBf16KernelTests
{
    /// <summary>One bf16 step relative to the value (2⁻⁸ rounding either way, in kernel and in reference).</summary>
    internal const double Step = 1.0 / 128;

    /// <summary>float32 summation of the bf16 products, relative to the largest magnitude.</summary>
    internal const double SumRounding = 1.0 / 65536;

    /// <summary>Every mask kind, block positions, GQA, odd sizes and head dims 8–128 (33 odd); made per test, as packed starts are tensors.</summary>
    private static readonly Dictionary<string, Func<(int B, int T, int S, int Hq, int Hkv, int D, AttentionSpec Spec)>> Cases = new()
    {
        ["causal d64"] = () => (1, 64, 64, 4, 4, 64, AttentionSpec.Causal),
        ["causal d128, a partial query tile"] = () => (2, 70, 70, 2, 2, 128, AttentionSpec.Causal),
        ["grouped query heads 4 over 2"] = () => (2, 70, 70, 4, 2, 16, AttentionSpec.Causal),
        ["grouped query heads 8 over 1"] = () => (2, 70, 70, 8, 1, 16, AttentionSpec.Causal),
        ["odd: T 7, d 33"] = () => (1, 7, 7, 2, 1, 33, AttentionSpec.Causal),
        ["odd: T 37, d 8"] = () => (1, 37, 37, 2, 1, 8, AttentionSpec.Causal),
        ["odd: T 37, d 80"] = () => (1, 37, 37, 2, 1, 80, AttentionSpec.Causal),
        ["odd: T 70, d 33"] = () => (1, 70, 70, 2, 1, 33, AttentionSpec.Causal),
        ["odd: T 70, d 128"] = () => (1, 70, 70, 2, 1, 128, AttentionSpec.Causal),
        ["kv cache: 5 queries after 32"] = () => (2, 5, 37, 4, 2, 16, new AttentionSpec { QueryStart = 32 }),
        ["kv cache: 37 queries after 113"] = () => (2, 37, 150, 4, 2, 16, new AttentionSpec { QueryStart = 113 }),
        ["packed sequences"] = () => (2, 100, 100, 4, 2, 16, new AttentionSpec { SequenceStarts = PackedStarts.Of([0, 13, 40, 90, 130, 170, 171], 2 * 100) }),
        ["packed: one start in row 0"] = () => (2, 100, 100, 4, 2, 16, new AttentionSpec { SequenceStarts = PackedStarts.Of([70], 2 * 100) }),
        ["S2 G 50"] = () => (2, 200, 200, 4, 2, 16, new AttentionSpec { GroupSize = 50 }),
        ["S2 G 2"] = () => (2, 200, 200, 4, 2, 16, new AttentionSpec { GroupSize = 2 }),
        ["S2 G 100 packed"] = () => (2, 200, 200, 4, 2, 16, new AttentionSpec { GroupSize = 100, SequenceStarts = PackedStarts.Of([0, 37, 120, 260, 333], 2 * 200) }),
        ["block: keys all before the queries"] = () => (2, 64, 64, 4, 2, 16, new AttentionSpec { QueryStart = 128 }),
        ["block: first queries before the keys"] = () => (2, 100, 60, 4, 2, 16, new AttentionSpec { QueryStart = 30, KeyStart = 50 }),
        ["block: S2 groups past the keys"] = () => (2, 100, 60, 4, 2, 16, new AttentionSpec { QueryStart = 30, KeyStart = 50, RowLength = 160, GroupSize = 40 }),
        ["block: packed and S2"] = () => (2, 100, 80, 4, 2, 16, new AttentionSpec { QueryStart = 100, KeyStart = 60, RowLength = 200, SequenceStarts = PackedStarts.Of([0, 37, 120, 260, 333], 2 * 200), GroupSize = 50 }),
        ["block: heads across the S2 halves"] = () => (2, 200, 200, 4, 2, 16, new AttentionSpec { GroupSize = 50, HeadStart = 1, TotalHeads = 8 }),
    };

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesReference(string name)
    {
        var (b, t, s, hq, hkv, d, spec) = Cases[name]();
        AssertMatchesReference(b, t, s, hq, hkv, d, spec);
    }

    [Fact]
    public void BackwardSplitIntoKeyTileChunksMatchesReference()
        => AssertMatchesReference(2, 200, 200, 4, 2, 16, new AttentionSpec { GroupSize = 100 }, chunks: 3);

    /// <summary>lse's own gradient (a part to be merged) enters the bf16 backward as it does the float32 one.</summary>
    [Fact]
    public void LseGradientMatchesReference()
        => AssertMatchesReference(2, 100, 60, 4, 2, 16, new AttentionSpec { QueryStart = 30, KeyStart = 50, RowLength = 160, GroupSize = 40 }, withLseGradient: true);

    /// <summary>
    /// Through the op: under a bf16 scope the forward, and the backward run later outside it, are the bf16 kernel's
    /// bitwise; they miss float32 by far more than float32 rounding (so bf16 cannot silently run at float32); and
    /// under an fp32 scope the op is the float32 kernel's bitwise.
    /// </summary>
    [Fact]
    public void TheOpRunsAtItsForwardsPrecisionAndFloat32IsUnchanged()
    {
        const int b = 1, t = 96, hq = 4, hkv = 2, d = 32;
        var rng = new Random(11);
        float[] q = AttentionKernelTests.Fill(rng, b * t * hq * d, 2f), k = AttentionKernelTests.Fill(rng, b * t * hkv * d, 2f), v = AttentionKernelTests.Fill(rng, b * t * hkv * d, 1f), dout = AttentionKernelTests.Fill(rng, b * t * hq * d, 1f);
        var bf16 = Kernel(q, k, v, dout, b, t, t, hq, hkv, d, AttentionSpec.Causal, Precision.Bf16);
        var f32 = Kernel(q, k, v, dout, b, t, t, hq, hkv, d, AttentionSpec.Causal, Precision.F32);

        var viaOp = Op(q, k, v, dout, [b, t, hq, d], [b, t, hkv, d], Precision.Bf16);
        var viaOp32 = Op(q, k, v, dout, [b, t, hq, d], [b, t, hkv, d], Precision.F32);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(bf16[i], viaOp[i]);
            Assert.Equal(f32[i], viaOp32[i]);
            // bf16 operands move results by ~2⁻⁹ of their size; float32 rounding by ~2⁻²⁴.
            double gap = bf16[i].Zip(f32[i], (x, y) => Math.Abs(x - y)).Max() / f32[i].Max(MathF.Abs);
            Assert.True(gap > 1e-4, $"output {i}: bf16 within {gap:E1} of float32: it did not round");
        }
    }

    private static void AssertMatchesReference(int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec, int chunks = 1, bool withLseGradient = false)
    {
        var rng = new Random(1000 * t + d);
        float[] q = AttentionKernelTests.Fill(rng, b * t * hq * d, 2f), k = AttentionKernelTests.Fill(rng, b * s * hkv * d, 2f);
        float[] v = AttentionKernelTests.Fill(rng, b * s * hkv * d, 1f), dout = AttentionKernelTests.Fill(rng, b * t * hq * d, 1f);
        float[]? dlse = withLseGradient ? AttentionKernelTests.Fill(rng, b * hq * t, 1f) : null;
        var (oRef, lseRef, oSize) = AttentionReference.ForwardBounded(q, k, v, b, t, s, hq, hkv, d, spec, Precision.Bf16);
        var (dqRef, dkRef, dvRef, size) = AttentionReference.BackwardBounded(dout, q, k, v, b, t, s, hq, hkv, d, spec, dlse, Precision.Bf16);
        foreach (var (name, tiles, run) in Variants())
        {
            if (tiles == AttentionTiles.Bf16Pairs && !Gemm.IsSupported(GemmIsa.Avx512Bf16))
                continue;
            float[] o = AttentionKernelTests.Nans(oRef.Length), lse = AttentionKernelTests.Nans(lseRef.Length), dq = AttentionKernelTests.Nans(q.Length), dk = AttentionKernelTests.Nans(k.Length), dv = AttentionKernelTests.Nans(v.Length);
            fixed (float* po = o, pl = lse, pq = q, pk = k, pv = v, pdo = dout, pdl = dlse, pdq = dq, pdk = dk, pdv = dv)
                run(new Call(po, pl, pq, pk, pv, pdo, pdl, pdq, pdk, pdv, b, t, s, hq, hkv, d, spec), tiles, chunks);
            AssertWithin(oRef, o, oSize, $"o ({name})");
            // lse: the same bf16 operands, float32 sums of d products against float64 ones.
            AssertWithin(lseRef, lse, Array.ConvertAll(lseRef, x => double.IsFinite(x) ? 1.0 + Math.Abs(x) : 0), $"lse ({name})", step: 0);
            AssertWithin(dqRef, dq, size.Dq, $"dq ({name})");
            AssertWithin(dkRef, dk, size.Dk, $"dk ({name})");
            AssertWithin(dvRef, dv, size.Dv, $"dv ({name})");
        }
    }

    /// <summary>The public entry point (pairs where the CPU has them), then each kind of tile at each width.</summary>
    private static IEnumerable<(string Name, AttentionTiles Tiles, Action<Call, AttentionTiles, int> Run)> Variants() =>
    [
        ("public", AttentionTiles.Bf16Rounded, (c, _, _) => c.Public()),
        ("pairs V512", AttentionTiles.Bf16Pairs, (c, tiles, chunks) => c.At<V512>(tiles, chunks)),
        ("rounded V512", AttentionTiles.Bf16Rounded, (c, tiles, chunks) => c.At<V512>(tiles, chunks)),
        ("rounded V256", AttentionTiles.Bf16Rounded, (c, tiles, chunks) => c.At<V256>(tiles, chunks)),
        ("rounded V128", AttentionTiles.Bf16Rounded, (c, tiles, chunks) => c.At<V128>(tiles, chunks)),
    ];

    private readonly struct Call(float* o, float* lse, float* q, float* k, float* v, float* dout, float* dlse, float* dq, float* dk, float* dv, int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec)
    {
        public void Public()
        {
            Attention.Forward(o, lse, q, k, v, b, t, s, hq, hkv, d, spec, Precision.Bf16);
            Attention.Backward(dq, dk, dv, dout, q, k, v, o, lse, b, t, s, hq, hkv, d, spec, dlse, Precision.Bf16);
        }

        public void At<TV>(AttentionTiles tiles, int chunks)
            where TV : unmanaged, IVec<TV>
        {
            Attention.ForwardCounted<TV>(o, lse, q, k, v, b, t, s, hq, hkv, d, spec, tiles);
            Attention.BackwardCounted<TV>(dq, dk, dv, dout, q, k, v, o, lse, b, t, s, hq, hkv, d, spec, chunks, dlse, tiles);
        }
    }

    /// <summary>|actual − expected| ≤ step · magnitude + <see cref="SumRounding"/> · the largest magnitude, element by element.</summary>
    internal static void AssertWithin(float[] expected, float[] actual, double[] magnitude, string what, double step = Step)
    {
        double floor = SumRounding * magnitude.DefaultIfEmpty(0).Max();
        for (int i = 0; i < expected.Length; i++)
        {
            if (!float.IsFinite(expected[i]))
            {
                Assert.True(expected[i].Equals(actual[i]), $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
                continue;
            }
            double bound = step * magnitude[i] + floor;
            Assert.True(Math.Abs((double)actual[i] - expected[i]) <= bound, $"{what}[{i}]: {actual[i]} against {expected[i]}, allowed ±{bound:E2}");
        }
    }

    /// <summary>o, lse, dq, dk, dv of the pointer API at a precision.</summary>
    private static float[][] Kernel(float[] q, float[] k, float[] v, float[] dout, int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec, Precision precision)
    {
        float[] o = new float[q.Length], lse = new float[b * hq * t], dq = new float[q.Length], dk = new float[k.Length], dv = new float[v.Length];
        fixed (float* po = o, pl = lse, pq = q, pk = k, pv = v, pdo = dout, pdq = dq, pdk = dk, pdv = dv)
        {
            Attention.Forward(po, pl, pq, pk, pv, b, t, s, hq, hkv, d, spec, precision);
            Attention.Backward(pdq, pdk, pdv, pdo, pq, pk, pv, po, pl, b, t, s, hq, hkv, d, spec, null, precision);
        }
        return [o, dq, dk, dv];
    }

    /// <summary>o, dq, dk, dv through the autograd op, its forward under a scope of the precision and its backward outside it.</summary>
    private static float[][] Op(float[] q, float[] k, float[] v, float[] dout, int[] qShape, int[] kShape, Precision precision)
    {
        using var tq = Tensor.FromArray(q, qShape, requiresGrad: true);
        using var tk = Tensor.FromArray(k, kShape, requiresGrad: true);
        using var tv = Tensor.FromArray(v, kShape, requiresGrad: true);
        using var g = Tensor.FromArray(dout, qShape);
        Tensor o;
        using (Autocast.Scope(precision))
            o = tq.Attention(tk, tv);
        using (o)
        {
            o.Backward(g);
            return [o.ToFloatArray(), tq.Grad!.ToFloatArray(), tk.Grad!.ToFloatArray(), tv.Grad!.ToFloatArray()];
        }
    }
}
