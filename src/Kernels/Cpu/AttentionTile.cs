using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// The tile operations both passes share: one register-blocked product, and the loads, stores and
/// transposes between the [token, head, D] tensors and the tiles.
/// </summary>
public static unsafe partial class Attention
{
    /// <summary>Queries and keys in a tile, and the N of every product (a multiple of it for dq). Wider tiles (128) measured slower: more of L1 in use.</summary>
    private const int Tile = 64;

    /// <summary>
    /// C[m × n] (+)= A·B for n a multiple of 64, with A's element (i, p) at a[i·rsA + p·csA] — a tensor's
    /// rows in place, or their transpose by swapping the strides, so neither is copied — and B, C
    /// row-major (ldb, ldc floats apart). Each step keeps a 2-row × 4-vector block of C in registers: 8
    /// independent FMA chains, what latency 4 needs, and few enough registers for AVX2's 16; on Zen 4 it
    /// runs as fast as a 4-row block. Any m: an odd last row repeats row m − 1 and is not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileGemm<TV>(float* c, long ldc, float* a, long rsA, long csA, float* b, long ldb, int m, int k, bool accumulate, int n = Tile)
        where TV : unmanaged, IVec<TV>
    {
        int w = TV.Count;
        for (int j = 0; j < n; j += 4 * w)
            for (int i = 0; i < m; i += 2)
            {
                float* a0 = a + i * rsA, a1 = a + Math.Min(i + 1, m - 1) * rsA;
                float* c0 = c + i * ldc + j, c1 = c0 + ldc;
                bool second = i + 1 < m;
                TV x00 = default, x01 = default, x02 = default, x03 = default, x10 = default, x11 = default, x12 = default, x13 = default;
                if (accumulate)
                {
                    (x00, x01, x02, x03) = (TV.Load(c0), TV.Load(c0 + w), TV.Load(c0 + 2 * w), TV.Load(c0 + 3 * w));
                    if (second)
                        (x10, x11, x12, x13) = (TV.Load(c1), TV.Load(c1 + w), TV.Load(c1 + 2 * w), TV.Load(c1 + 3 * w));
                }
                float* bp = b + j;
                long ap = 0;
                for (int p = 0; p < k; p++, ap += csA, bp += ldb)
                {
                    TV b0 = TV.Load(bp), b1 = TV.Load(bp + w), b2 = TV.Load(bp + 2 * w), b3 = TV.Load(bp + 3 * w);
                    var s = TV.Splat(a0[ap]);
                    x00 = TV.Fma(s, b0, x00);
                    x01 = TV.Fma(s, b1, x01);
                    x02 = TV.Fma(s, b2, x02);
                    x03 = TV.Fma(s, b3, x03);
                    s = TV.Splat(a1[ap]);
                    x10 = TV.Fma(s, b0, x10);
                    x11 = TV.Fma(s, b1, x11);
                    x12 = TV.Fma(s, b2, x12);
                    x13 = TV.Fma(s, b3, x13);
                }
                StoreRow(c0, w, x00, x01, x02, x03);
                if (second)
                    StoreRow(c1, w, x10, x11, x12, x13);
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TV>(float* p, int w, TV x0, TV x1, TV x2, TV x3)
        where TV : unmanaged, IVec<TV>
    {
        x0.Store(p);
        x1.Store(p + w);
        x2.Store(p + 2 * w);
        x3.Store(p + 3 * w);
    }

    /// <summary>rows rows of d floats (src rows stride apart) times factor into dst rows ldd apart, the rest of each dst row up to ldd zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LoadRows<TV>(float* dst, long ldd, float* src, long stride, int rows, int d, float factor)
        where TV : unmanaged, IVec<TV>
    {
        int w = TV.Count;
        var f = TV.Splat(factor);
        for (int i = 0; i < rows; i++)
        {
            float* s = src + i * stride, o = dst + i * ldd;
            int c = 0;
            for (; c <= d - w; c += w)
                (TV.Load(s + c) * f).Store(o + c);
            for (; c < d; c++)
                o[c] = s[c] * factor;
            new Span<float>(o + d, (int)(ldd - d)).Clear();
        }
    }

    /// <summary>
    /// Asks for up to 64 rows of d floats, stride apart, to be brought into L2 while the current tile is
    /// worked on: tensors' rows sit Hkv·D or Hq·D floats apart, a pattern the hardware prefetcher does not
    /// follow, and from T ≈ 4K on the rows come from L3 or memory (forward T = 8K: 80 instead of 60 GFLOP/s a core).
    /// </summary>
    private static void Prefetch(float* p, long stride, int rows, int d)
    {
        if (!Sse.IsSupported)
            return;
        for (int j = 0; j < Math.Min(rows, Tile); j++)
            for (int c = 0; c < d; c += 16)
                Sse.Prefetch1(p + j * stride + c);
    }

    /// <summary>rows rows of d floats (src rows stride apart) times factor into dst [d × 64] transposed; columns past rows zero.</summary>
    private static void LoadTransposed(float* dst, float* src, long stride, int rows, int d, float factor)
    {
        Transpose(dst, Tile, src, stride, rows, d, factor);
        if (rows < Tile)
            for (int c = 0; c < d; c++)
                new Span<float>(dst + c * Tile + rows, Tile - rows).Clear();
    }

    /// <summary>The first rows columns of src [d × 64] times factor, transposed into rows of d floats stride apart.</summary>
    private static void StoreTransposed(float* dst, long stride, float* src, int rows, int d, float factor)
        => Transpose(dst, stride, src, Tile, d, rows, factor);

    /// <summary>
    /// dst[c·ldd + j] = factor · src[j·lds + c] for j &lt; rows, c &lt; cols. With AVX-512, whole 16 × 16
    /// blocks go through registers, 64 shuffles for 256 elements; element by element, as the edges and
    /// other CPUs go, took 13% of S2-Attn's time at T = 2K.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose(float* dst, long ldd, float* src, long lds, int rows, int cols, float factor)
    {
        int blockRows = Avx512F.IsSupported ? rows & ~15 : 0, blockCols = cols & ~15;
        var f = Vector512.Create(factor);
        for (int j = 0; j < blockRows; j += 16)
            for (int c = 0; c < blockCols; c += 16)
            {
                float* s = src + j * lds + c, o = dst + c * ldd + j;
                var (a0, a1, a2, a3) = Interleave4(s, lds, f);
                var (b0, b1, b2, b3) = Interleave4(s + 4 * lds, lds, f);
                var (c0, c1, c2, c3) = Interleave4(s + 8 * lds, lds, f);
                var (d0, d1, d2, d3) = Interleave4(s + 12 * lds, lds, f);
                StoreColumns(o, ldd, 0, a0, b0, c0, d0);
                StoreColumns(o, ldd, 1, a1, b1, c1, d1);
                StoreColumns(o, ldd, 2, a2, b2, c2, d2);
                StoreColumns(o, ldd, 3, a3, b3, c3, d3);
            }
        for (int j = 0; j < rows; j++)
            for (int c = j < blockRows ? blockCols : 0; c < cols; c++)
                dst[c * ldd + j] = src[j * lds + c] * factor;
    }

    /// <summary>
    /// Rows 0–3 of a 16 × 16 block, interleaved: result k holds, in 128-bit lane L, column 4L + k of the
    /// four rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>) Interleave4(float* s, long lds, Vector512<float> f)
    {
        Vector512<float> r0 = Vector512.Load(s) * f, r1 = Vector512.Load(s + lds) * f, r2 = Vector512.Load(s + 2 * lds) * f, r3 = Vector512.Load(s + 3 * lds) * f;
        Vector512<double> t0 = Avx512F.UnpackLow(r0, r1).AsDouble(), t1 = Avx512F.UnpackHigh(r0, r1).AsDouble();
        Vector512<double> t2 = Avx512F.UnpackLow(r2, r3).AsDouble(), t3 = Avx512F.UnpackHigh(r2, r3).AsDouble();
        return (Avx512F.UnpackLow(t0, t2).AsSingle(), Avx512F.UnpackHigh(t0, t2).AsSingle(), Avx512F.UnpackLow(t1, t3).AsSingle(), Avx512F.UnpackHigh(t1, t3).AsSingle());
    }

    /// <summary>
    /// Columns k, 4 + k, 8 + k and 12 + k of a 16 × 16 block from result k of <see cref="Interleave4"/> for
    /// its rows 0–3 (a), 4–7 (b), 8–11 (c) and 12–15 (d), each stored as a row of dst.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreColumns(float* o, long ldd, int k, Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        // 0x88 takes 128-bit lanes 0 and 2 of each operand, 0xDD lanes 1 and 3.
        var ab02 = Avx512F.Shuffle4x128(a, b, 0x88);
        var ab13 = Avx512F.Shuffle4x128(a, b, 0xDD);
        var cd02 = Avx512F.Shuffle4x128(c, d, 0x88);
        var cd13 = Avx512F.Shuffle4x128(c, d, 0xDD);
        Avx512F.Shuffle4x128(ab02, cd02, 0x88).Store(o + k * ldd);
        Avx512F.Shuffle4x128(ab13, cd13, 0x88).Store(o + (4 + k) * ldd);
        Avx512F.Shuffle4x128(ab02, cd02, 0xDD).Store(o + (8 + k) * ldd);
        Avx512F.Shuffle4x128(ab13, cd13, 0xDD).Store(o + (12 + k) * ldd);
    }
}
