using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Flash-style causal attention on the CPU, after FlashAttention-2: a tile of Br queries streams over
/// tiles of Bc keys with an online softmax, so nothing of size T×S is ever held — only per-work-item
/// tiles, and lse (plus, in backward, D) of size B·Hq·T. Every mask is the per-query key range
/// [lo, t + KvOffset] of <see cref="AttentionMask"/>: key tiles outside a query tile's range are never
/// visited, and rows of a tile that see none of a key tile are left out of its products, so S2-Attn
/// with G = T/4 does about a quarter of the work of full causal attention.
/// q, o: [B, T, Hq, D]; k, v: [B, S, Hkv, D]; lse: [B, Hq, T]; all contiguous float32. Query head h
/// reads kv head h / (Hq/Hkv) in place.
/// </summary>
public static unsafe partial class Attention
{
    private const int Br = 64;
    private const int Bc = 64;

    public static void Forward(float* o, float* lse, float* q, float* k, float* v, int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec)
        => ForwardCounted(o, lse, q, k, v, b, t, s, hq, hkv, d, spec);

    /// <summary>Forward, returning how many scores it computed: the work the masks leave (tests check it).</summary>
    internal static long ForwardCounted(float* o, float* lse, float* q, float* k, float* v, int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec)
    {
        int[] lowerBounds = Prepare(b, t, s, hq, hkv, d, spec);
        long work = 0;
        fixed (int* lo = lowerBounds)
        {
            var p = new Problem(b, t, s, hq, hkv, d, spec) { Q = q, K = k, V = v, O = o, Lse = lse, Lo = lo };
            int tiles = Tiles(t, Br);
            // Late query tiles cost most under a causal mask; handing them out first balances threads.
            CpuThreads.For(b * hq * tiles, item =>
                Interlocked.Add(ref work, ForwardQueryTile(p, item / tiles, tiles - 1 - item % tiles)));
        }
        return work;
    }

    private static long ForwardQueryTile(in Problem p, int bh, int tile)
    {
        int b = bh / p.Hq, h = bh % p.Hq, kvh = p.KvHead(h);
        int t0 = tile * Br, rows = Math.Min(Br, p.T - t0);
        int dp = p.Dp;
        using var scratch = new Scratch(2 * Br * dp + 2 * Bc * dp + Br * Bc + 4 * Br);
        float* qs = scratch.Floats(Br * dp), kt = scratch.Floats(dp * Bc), vs = scratch.Floats(Bc * dp);
        float* sc = scratch.Floats(Br * Bc), acc = scratch.Floats(Br * dp), m = scratch.Floats(Br), l = scratch.Floats(Br);
        int* lo = scratch.Ints(Br), hi = scratch.Ints(Br);

        p.RowBounds(lo, hi, b, h, t0, rows);
        LoadRows(qs, p.Q + p.QIndex(b, t0, h), p.Hq * p.D, rows, Br, p.D, dp, p.Scale);
        new Span<float>(m, Br).Fill(float.NegativeInfinity);

        long work = 0;
        int kEnd = hi[rows - 1] + 1;
        for (int j0 = lo[0]; j0 < kEnd; j0 += Bc)
        {
            int cols = Math.Min(Bc, kEnd - j0);
            var (r0, r1) = RowsSeeing(lo, hi, rows, j0, cols);
            LoadTransposed(kt, p.K + p.KIndex(b, j0, kvh), p.Hkv * p.D, cols, p.D);
            LoadRows(vs, p.V + p.KIndex(b, j0, kvh), p.Hkv * p.D, cols, cols, p.D, dp, 1f);
            Scores(sc, qs, kt, lo, hi, r0, r1, j0, p.D, dp);
            for (int i = r0; i < r1; i++)
            {
                float* row = sc + i * Bc;
                float max = RowMax(row);
                if (max == float.NegativeInfinity)
                {
                    // This row sees no key of the tile (a padding row, or one of a straddling tile).
                    new Span<float>(row, Bc).Clear();
                    continue;
                }
                float mNew = Math.Max(m[i], max);
                float alpha = MathF.Exp(m[i] - mNew);
                l[i] = l[i] * alpha + ExpRow(row, mNew);
                m[i] = mNew;
                if (alpha != 1f)
                    ScaleRow(acc + i * dp, dp, alpha);
            }
            TileGemm(acc + r0 * dp, dp, sc + r0 * Bc, Bc, 1, vs, dp, r1 - r0, dp, cols, accumulate: true);
            work += (long)(r1 - r0) * Bc;
        }

        for (int i = 0; i < rows; i++)
        {
            float inv = 1f / l[i];
            float* dst = p.O + p.QIndex(b, t0 + i, h);
            for (int c = 0; c < p.D; c++)
                dst[c] = acc[i * dp + c] * inv;
            p.Lse[p.LseIndex(b, h, t0 + i)] = m[i] + MathF.Log(l[i]);
        }
        return work;
    }

    /// <summary>Checks shapes and spec (ArgumentException naming the field) and returns the masks' lo.</summary>
    private static int[] Prepare(int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec)
    {
        if (hkv < 1 || hq % hkv != 0)
            throw new ArgumentException($"attention needs Hq a multiple of Hkv, got Hq={hq}, Hkv={hkv}", nameof(hkv));
        if (d < 1)
            throw new ArgumentException($"attention needs a head dim D of at least 1, got {d}", nameof(d));
        AttentionMask.Validate(spec, b, t, s, hq);
        return AttentionMask.LowerBounds(spec, b, t);
    }

    private static int Tiles(int n, int tile) => (n + tile - 1) / tile;

    /// <summary>
    /// Rows [r0, r1) of a query tile that see any key of [j0, j0 + cols), widened to multiples of 4 for
    /// <see cref="TileGemm"/>; lo and hi grow with the row, so those rows are contiguous.
    /// </summary>
    private static (int R0, int R1) RowsSeeing(int* lo, int* hi, int rows, int j0, int cols)
    {
        int r0 = 0, r1 = rows;
        while (r0 < rows && hi[r0] < j0)
            r0++;
        while (r1 > r0 && lo[r1 - 1] > j0 + cols - 1)
            r1--;
        return (r0 & ~3, (r1 + 3) & ~3);
    }

    /// <summary>Scaled scores of rows [r0, r1) against the key tile at j0, −∞ outside each row's [lo, hi].</summary>
    private static void Scores(float* sc, float* qs, float* kt, int* lo, int* hi, int r0, int r1, int j0, int d, int dp)
    {
        TileGemm(sc + r0 * Bc, Bc, qs + r0 * dp, dp, 1, kt, Bc, r1 - r0, Bc, d, accumulate: false);
        for (int i = r0; i < r1; i++)
        {
            float* row = sc + i * Bc;
            int a = (int)Math.Clamp((long)lo[i] - j0, 0, Bc);
            int e = (int)Math.Clamp((long)hi[i] - j0 + 1, 0, Bc);
            new Span<float>(row, a).Fill(float.NegativeInfinity);
            new Span<float>(row + e, Bc - e).Fill(float.NegativeInfinity);
        }
    }

    /// <summary>
    /// rows rows of d floats from src (row stride in floats) times factor into dst (row stride dp), and
    /// zero rows up to padRows so that padding contributes nothing to products.
    /// </summary>
    private static void LoadRows(float* dst, float* src, int stride, int rows, int padRows, int d, int dp, float factor)
    {
        for (int i = 0; i < rows; i++)
            for (int c = 0; c < d; c++)
                dst[i * dp + c] = src[(long)i * stride + c] * factor;
        new Span<float>(dst + rows * dp, (padRows - rows) * dp).Clear();
    }

    /// <summary>cols rows of d floats from src into dst [d, Bc] transposed, the columns past cols zeroed.</summary>
    private static void LoadTransposed(float* dst, float* src, int stride, int cols, int d)
    {
        for (int j = 0; j < cols; j++)
            for (int c = 0; c < d; c++)
                dst[c * Bc + j] = src[(long)j * stride + c];
        for (int c = 0; c < d; c++)
            new Span<float>(dst + c * Bc + cols, Bc - cols).Clear();
    }

    private static float RowMax(float* row)
    {
        int w = Vector<float>.Count;
        var mv = Vector.Load(row);
        for (int j = w; j < Bc; j += w)
            mv = Vector.Max(mv, Vector.Load(row + j));
        float max = float.NegativeInfinity;
        for (int lane = 0; lane < w; lane++)
            max = Math.Max(max, mv[lane]);
        return max;
    }

    /// <summary>
    /// row = exp(row − offset), returning its sum. Values below float's normal range become 0: they add
    /// nothing, and denormals would slow every product they enter.
    /// </summary>
    private static float ExpRow(float* row, float offset)
    {
        int w = Vector<float>.Count;
        var off = new Vector<float>(offset);
        var floor = new Vector<float>(-87f);
        var sum = Vector<float>.Zero;
        for (int j = 0; j < Bc; j += w)
        {
            var x = Vector.Load(row + j) - off;
            var e = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(x, floor), Vector.Exp(x), Vector<float>.Zero);
            e.Store(row + j);
            sum += e;
        }
        return Vector.Sum(sum);
    }

    private static void ScaleRow(float* row, int n, float factor)
    {
        int w = Vector<float>.Count;
        var f = new Vector<float>(factor);
        for (int j = 0; j < n; j += w)
            (Vector.Load(row + j) * f).Store(row + j);
    }

    /// <summary>
    /// c [m, n] = (or +=) A·B with A's element (i, p) at a[i·rsA + p·csA] — so a transposed tile needs no
    /// copy — and B, C row-major. m must be a multiple of 4 and n of 2W (tiles are padded to that); each
    /// step keeps a 4 × 2W block of C in registers.
    /// </summary>
    private static void TileGemm(float* c, int ldc, float* a, int rsA, int csA, float* bm, int ldb, int m, int n, int k, bool accumulate)
    {
        int w = Vector<float>.Count;
        for (int i = 0; i < m; i += 4)
        {
            float* a0 = a + i * rsA, a1 = a0 + rsA, a2 = a1 + rsA, a3 = a2 + rsA;
            for (int j = 0; j < n; j += 2 * w)
            {
                float* c0 = c + i * ldc + j, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
                Vector<float> x00, x01, x10, x11, x20, x21, x30, x31;
                if (accumulate)
                {
                    x00 = Vector.Load(c0); x01 = Vector.Load(c0 + w);
                    x10 = Vector.Load(c1); x11 = Vector.Load(c1 + w);
                    x20 = Vector.Load(c2); x21 = Vector.Load(c2 + w);
                    x30 = Vector.Load(c3); x31 = Vector.Load(c3 + w);
                }
                else
                {
                    x00 = x01 = x10 = x11 = x20 = x21 = x30 = x31 = Vector<float>.Zero;
                }
                float* bp = bm + j;
                for (int p = 0, ap = 0; p < k; p++, ap += csA, bp += ldb)
                {
                    var b0 = Vector.Load(bp);
                    var b1 = Vector.Load(bp + w);
                    var s = new Vector<float>(a0[ap]);
                    x00 = Vector.MultiplyAddEstimate(s, b0, x00); x01 = Vector.MultiplyAddEstimate(s, b1, x01);
                    s = new Vector<float>(a1[ap]);
                    x10 = Vector.MultiplyAddEstimate(s, b0, x10); x11 = Vector.MultiplyAddEstimate(s, b1, x11);
                    s = new Vector<float>(a2[ap]);
                    x20 = Vector.MultiplyAddEstimate(s, b0, x20); x21 = Vector.MultiplyAddEstimate(s, b1, x21);
                    s = new Vector<float>(a3[ap]);
                    x30 = Vector.MultiplyAddEstimate(s, b0, x30); x31 = Vector.MultiplyAddEstimate(s, b1, x31);
                }
                x00.Store(c0); x01.Store(c0 + w);
                x10.Store(c1); x11.Store(c1 + w);
                x20.Store(c2); x21.Store(c2 + w);
                x30.Store(c3); x31.Store(c3 + w);
            }
        }
    }

    /// <summary>One call's sizes, operands (in floats) and masks; the pointers not involved stay null.</summary>
    private readonly struct Problem(int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec)
    {
        public readonly int B = b, T = t, S = s, Hq = hq, Hkv = hkv, D = d;

        /// <summary>D padded to 2W: tile rows are that wide, the padding zero.</summary>
        public readonly int Dp = (d + 2 * Vector<float>.Count - 1) / (2 * Vector<float>.Count) * (2 * Vector<float>.Count);

        public readonly int Offset = spec.KvOffset;
        public readonly float Scale = spec.ScaleFor(d);

        public float* Q { get; init; }
        public float* K { get; init; }
        public float* V { get; init; }
        public float* O { get; init; }
        public float* Lse { get; init; }
        public float* DOut { get; init; }
        public float* DQ { get; init; }
        public float* DK { get; init; }
        public float* DV { get; init; }

        /// <summary>D_i = rowsum(dO ∘ O), laid out as lse.</summary>
        public float* Delta { get; init; }

        /// <summary>AttentionMask.LowerBounds: [B, 2, T].</summary>
        public int* Lo { get; init; }

        public int KvHead(int h) => h / (Hq / Hkv);

        public long QIndex(int b, int t, int h) => ((long)b * T + t) * Hq * D + (long)h * D;

        public long KIndex(int b, int j, int kvh) => ((long)b * S + j) * Hkv * D + (long)kvh * D;

        public long LseIndex(int b, int h, int t) => ((long)b * Hq + h) * T + t;

        public int* RowLo(int b, int h) => Lo + ((long)b * 2 + AttentionMask.Half(h, Hq)) * T;

        /// <summary>Key range [lo, hi] of query rows [t0, t0 + rows) into lo/hi[0, Br); later rows see nothing.</summary>
        public void RowBounds(int* lo, int* hi, int b, int h, int t0, int rows)
        {
            int* rowLo = RowLo(b, h);
            for (int i = 0; i < Br; i++)
            {
                lo[i] = i < rows ? rowLo[t0 + i] : int.MaxValue;
                hi[i] = i < rows ? t0 + i + Offset : -1;
            }
        }
    }

    /// <summary>A work item's tiles: one zeroed, 64-byte aligned block, handed out in order.</summary>
    private sealed class Scratch : IDisposable
    {
        private const int Align = 16; // floats (or ints) per 64 bytes
        private readonly float* _base;
        private readonly long _capacity;
        private long _used;

        /// <summary>Room for n floats and ints in all, in up to 16 pieces.</summary>
        public Scratch(long n)
        {
            _capacity = n + 16 * Align;
            _base = (float*)NativeMemory.AlignedAlloc((nuint)(_capacity * sizeof(float)), 64);
            NativeMemory.Clear(_base, (nuint)(_capacity * sizeof(float)));
        }

        public float* Floats(int n)
        {
            float* p = _base + _used;
            _used += (n + Align - 1) / Align * Align;
            if (_used > _capacity)
                throw new InvalidOperationException("attention scratch sized too small");
            return p;
        }

        public int* Ints(int n) => (int*)Floats(n);

        public void Dispose() => NativeMemory.AlignedFree(_base);
    }
}
