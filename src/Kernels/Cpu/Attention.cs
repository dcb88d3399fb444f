using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Flash-style causal attention on the CPU, after FlashAttention-2: a tile of 64 queries streams over
/// tiles of 64 keys with an online softmax, so nothing of size T×S is ever held — only per-work-item
/// tiles, lse of size B·Hq·T and, in backward, D and the dq partials (<see cref="AttentionMemory"/>
/// counts them). Every mask is the per-query key range [lo, hi] of <see cref="AttentionMask"/>, in the
/// call's key indices: key tiles outside a query tile's range are never visited, so S2-Attn with G = T/4
/// does about a quarter of the work of full causal attention, and a block of keys a block of queries
/// does not see costs nothing. A query that sees no key gets o = 0 and lse = −∞.
/// The forward works on transposed scores Sᵀ = K·Qᵀ (a key per row, a query per column): K and V are
/// read in place, only the query tile is transposed (once, for all its key tiles), and the softmax runs
/// down the columns — max, exp and sum are plain vector operations across a vector of queries at a
/// time. The backward (AttentionBackward.cs) goes once over the key tiles. A query tile of at most
/// <see cref="DecodeRows"/> rows — decoding with a KV cache — takes a row-at-a-time path instead
/// (AttentionDecode.cs). All of it is written once over the vector type (<see cref="IVec{TV}"/>) and
/// runs at the widest width the CPU has natively.
/// q, o: [B, T, Hq, D]; k, v: [B, S, Hkv, D]; lse: [B, Hq, T]; all contiguous float32. Query head h
/// reads kv head h / (Hq/Hkv) in place.
/// </summary>
public static unsafe partial class Attention
{
    /// <summary>Query rows (per head) up to which a forward query tile takes the row-at-a-time decode path.</summary>
    private const int DecodeRows = 4;

    /// <summary>
    /// The forward on raw pointers (layouts as above): o and lse written from q, k, v for <paramref name="b"/> rows
    /// of <paramref name="t"/> queries over <paramref name="s"/> keys, <paramref name="hq"/> query and
    /// <paramref name="hkv"/> key/value heads of <paramref name="d"/> dims, masked by <paramref name="spec"/>. Runs on
    /// <see cref="CpuThreads.Count"/> threads at the widest vector width the CPU has; what it allocates is counted in
    /// <see cref="AttentionMemory"/>.
    /// </summary>
    /// <remarks>At <see cref="Precision.Bf16"/> the tile products take bf16 operands and sum in float32 (AttentionBf16.cs).</remarks>
    public static void Forward(float* o, float* lse, float* q, float* k, float* v, int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec,
                               Precision precision = Precision.F32)
    {
        var tiles = TilesFor(precision);
        if (Vector512.IsHardwareAccelerated)
            ForwardCounted<V512>(o, lse, q, k, v, b, t, s, hq, hkv, d, spec, tiles);
        else if (Vector256.IsHardwareAccelerated)
            ForwardCounted<V256>(o, lse, q, k, v, b, t, s, hq, hkv, d, spec, tiles);
        else
            ForwardCounted<V128>(o, lse, q, k, v, b, t, s, hq, hkv, d, spec, tiles);
    }

    /// <summary>Forward at vector type TV, returning how many scores it computed: the work the masks leave (tests check it).</summary>
    internal static long ForwardCounted<TV>(float* o, float* lse, float* q, float* k, float* v, int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec,
                                            AttentionTiles tiles = AttentionTiles.F32)
        where TV : unmanaged, IVec<TV>
    {
        using var bounds = Prepare(b, t, s, hq, hkv, d, spec);
        long work = 0;
        var p = new Problem(b, t, s, hq, hkv, d, spec) { Q = q, K = k, V = v, O = o, Lse = lse, Lo = bounds.Lo };
        using var packed = tiles == AttentionTiles.F32 ? null : PackOperands<TV>(ref p, tiles, queries: false);
        int queryTiles = Tiles(t, Tile);
        // Late query tiles cost most under a causal mask; handing them out first balances threads.
        CpuThreads.For(b * hq * queryTiles, item =>
        {
            int bh = item / queryTiles, tile = queryTiles - 1 - item % queryTiles;
            int t0 = tile * Tile, rows = Math.Min(Tile, t - t0);
            // Decoding stays float32 at bf16 too: a few rows per head would repack every key tile for very little product.
            Interlocked.Add(ref work, rows <= DecodeRows ? ForwardRows<TV>(p, bh, t0, rows) : tiles switch
            {
                AttentionTiles.Bf16Pairs => ForwardQueryTileBf16<TV, PairTiles>(p, bh, t0, rows),
                AttentionTiles.Bf16Rounded => ForwardQueryTileBf16<TV, RoundedTiles<TV>>(p, bh, t0, rows),
                _ => ForwardQueryTile<TV>(p, bh, t0, rows),
            });
        });
        return work;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long ForwardQueryTile<TV>(in Problem p, int bh, int t0, int rows)
        where TV : unmanaged, IVec<TV>
    {
        int b = bh / p.Hq, h = bh % p.Hq, kvh = p.KvHead(h), d = p.D;
        using var scratch = new Scratch(2 * d * Tile + Tile * Tile + 4 * Tile);
        float* qt = scratch.Floats(d * Tile), ot = scratch.Floats(d * Tile), st = scratch.Floats(Tile * Tile);
        float* m = scratch.Floats(Tile), l = scratch.Floats(Tile);
        int* lo = scratch.Ints(Tile), hi = scratch.Ints(Tile);

        p.RowBounds(lo, hi, b, h, t0, rows);
        LoadTransposed(qt, p.Q + p.QIndex(b, t0, h), p.Ldq, rows, d, p.Scale);
        new Span<float>(m, Tile).Fill(float.NegativeInfinity);

        long work = 0;
        var (kStart, kEnd) = KeysSeen(lo, hi, rows);
        for (int j0 = kStart; j0 < kEnd; j0 += Tile)
        {
            int cols = Math.Min(Tile, kEnd - j0);
            Prefetch(p.K + p.KIndex(b, j0 + Tile, kvh), p.Ldk, kEnd - j0 - Tile, d);
            Prefetch(p.V + p.KIndex(b, j0 + Tile, kvh), p.Ldk, kEnd - j0 - Tile, d);
            // Sᵀ = K·Qᵀ, then oᵀ += Vᵀ·Pᵀ: K's rows and V's columns are read in place.
            TileGemm<TV>(st, Tile, p.K + p.KIndex(b, j0, kvh), p.Ldk, 1, qt, Tile, cols, d, accumulate: false);
            // lo and hi never fall from one query to the next: the last row's lo and the first row's hi decide.
            if (lo[rows - 1] > j0 || hi[0] < j0 + cols - 1)
                MaskColumns(st, lo, hi, rows, j0, cols);
            OnlineSoftmax<TV, Float32Exp>(st, cols, m, l, ot, d);
            TileGemm<TV>(ot, Tile, p.V + p.KIndex(b, j0, kvh), 1, p.Ldk, st, Tile, d, cols, accumulate: true);
            work += (long)cols * rows;
        }
        FinishQueryTile<TV>(p, b, h, t0, rows, m, l, ot);
        return work;
    }

    /// <summary>
    /// The keys [start, end) a query tile's rows see between them. Rows that see no key (before the call's keys,
    /// or past them) are a prefix and a suffix: the start is the first that sees one's lo.
    /// </summary>
    private static (int Start, int End) KeysSeen(int* lo, int* hi, int rows)
    {
        int first = 0;
        while (first < rows - 1 && lo[first] > hi[first])
            first++;
        return (lo[first], hi[rows - 1] + 1);
    }

    /// <summary>lse of a query tile's rows from their softmax maxima m and sums l, and o = oᵀ / l transposed into place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FinishQueryTile<TV>(in Problem p, int b, int h, int t0, int rows, float* m, float* l, float* ot)
        where TV : unmanaged, IVec<TV>
    {
        int d = p.D;
        for (int i = 0; i < rows; i++)
        {
            p.Lse[p.LseIndex(b, h, t0 + i)] = m[i] + MathF.Log(l[i]);
            // l = 0: the row saw no key; its o is 0 (oᵀ holds zeros there) and its lse −∞.
            l[i] = l[i] > 0 ? 1f / l[i] : 0f;
        }
        // o = oᵀ transposed, each row over its l (padding columns are never stored).
        for (int c = 0; c < d; c++)
            for (int v = 0; v < Tile; v += TV.Count)
                (TV.Load(ot + c * Tile + v) * TV.Load(l + v)).Store(ot + c * Tile + v);
        StoreTransposed(p.O + p.QIndex(b, t0, h), p.Ldq, ot, rows, d, 1f);
    }

    /// <summary>The tile products <see cref="Forward"/> and <see cref="Backward"/> use at <paramref name="precision"/>: at bf16, the vdpbf16ps kernel where the GEMM uses it.</summary>
    private static AttentionTiles TilesFor(Precision precision) =>
        precision != Precision.Bf16 ? AttentionTiles.F32
        : Gemm.IsaFor(precision) == GemmIsa.Avx512Bf16 ? AttentionTiles.Bf16Pairs
        : AttentionTiles.Bf16Rounded;

    /// <summary>
    /// Sᵀ[j, i] = −∞ where query column i does not see key j0 + j. As lo and hi grow with the query, the
    /// columns that see a key are one run [a, b) — from the first whose hi reaches it to the first whose lo
    /// passes it — and the run moves right with the key: each row of Sᵀ is filled outside it.
    /// </summary>
    private static void MaskColumns(float* st, int* lo, int* hi, int rows, int j0, int cols)
    {
        int a = 0, b = 0;
        for (int j = 0; j < cols; j++)
        {
            while (a < rows && hi[a] < j0 + j)
                a++;
            while (b < rows && lo[b] <= j0 + j)
                b++;
            new Span<float>(st + j * Tile, a).Fill(float.NegativeInfinity);
            new Span<float>(st + j * Tile + Math.Max(a, b), Tile - Math.Max(a, b)).Fill(float.NegativeInfinity);
        }
    }

    /// <summary>
    /// One key tile's step of the online softmax, down the columns of Sᵀ [cols × 64], a vector of columns
    /// at a time: new column maxima m, Sᵀ replaced by exp(Sᵀ − m), l and the output columns oᵀ [d × 64]
    /// rescaled by exp(m_old − m_new), exp as TE computes it. A column that has seen only −∞ so far keeps m = −∞ and subtracts 0
    /// instead, so no −∞ − −∞.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OnlineSoftmax<TV, TE>(float* st, int cols, float* m, float* l, float* ot, int d)
        where TV : unmanaged, IVec<TV>
        where TE : IAttentionExp
    {
        for (int v = 0; v < Tile; v += TV.Count)
        {
            var max = TV.Splat(float.NegativeInfinity);
            for (int j = 0; j < cols; j++)
                max = TV.Max(max, TV.Load(st + j * Tile + v));
            var old = TV.Load(m + v);
            var now = TV.Max(old, max);
            now.Store(m + v);
            var offset = TV.WhereGreater(now, TV.Splat(float.NegativeInfinity), now);
            var sum = TV.Splat(0f);
            for (int j = 0; j < cols; j++)
            {
                float* x = st + j * Tile + v;
                var e = TE.Exp(TV.Load(x) - offset);
                e.Store(x);
                sum += e;
            }
            var alpha = TE.Exp(old - offset);
            TV.Fma(TV.Load(l + v), alpha, sum).Store(l + v);
            if (TV.AllEqual(alpha, TV.Splat(1f)))
                continue;
            for (int c = 0; c < d; c++)
            {
                float* x = ot + c * Tile + v;
                (TV.Load(x) * alpha).Store(x);
            }
        }
    }

    /// <summary>Checks shapes and spec (ArgumentException naming the field) and returns the masks' lo.</summary>
    private static Bounds Prepare(int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec)
    {
        AttentionMask.ValidateHeads(hq, hkv, d);
        AttentionMask.Validate(spec, b, t, s, hq);
        return new Bounds(AttentionMask.LowerBounds(spec, b, t, s));
    }

    private static int Tiles(int n, int tile) => (n + tile - 1) / tile;

    /// <summary>
    /// Rows [r0, r1) of a query tile that see any key of [j0, j0 + cols); lo and hi grow with the row, so
    /// those rows are contiguous.
    /// </summary>
    private static (int R0, int R1) RowsSeeing(int* lo, int* hi, int rows, int j0, int cols)
    {
        int r0 = 0, r1 = rows;
        while (r0 < rows && hi[r0] < j0)
            r0++;
        while (r1 > r0 && lo[r1 - 1] > j0 + cols - 1)
            r1--;
        return (r0, r1);
    }

    /// <summary>One call's sizes, operands (in floats) and masks; the pointers not involved stay null.</summary>
    private readonly struct Problem(int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec)
    {
        public readonly int B = b, T = t, S = s, Hq = hq, Hkv = hkv, D = d;

        /// <summary>Floats between consecutive tokens of q, o, dout, dq (Ldq) and of k, v, dk, dv (Ldk).</summary>
        public readonly long Ldq = (long)hq * d, Ldk = (long)hkv * d;

        /// <summary>D rounded up to whole tiles: the row width of the dq partials, products' N in 64-float panels.</summary>
        public readonly int D64 = Tiles(d, Tile) * Tile;

        /// <summary>Query t's position less the first key's: query t sees keys up to t + Offset of the call.</summary>
        public readonly int Offset = spec.QueryStart - spec.KeyStart;

        /// <summary>The first local head in the shifted half of S2-Attn, decided by global head index.</summary>
        public readonly int FirstShifted = AttentionMask.FirstShiftedHead(spec, hq);

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

        /// <summary>D_i = rowsum(dO ∘ O) − dlse_i, laid out as lse.</summary>
        public float* Delta { get; init; }

        /// <summary>The gradient of lse as an output, laid out as lse; null = 0.</summary>
        public float* DLse { get; init; }

        /// <summary>dq summed per chunk of key tiles: [chunks, B, Hq, T, D64].</summary>
        public float* DqPartials { get; init; }

        /// <summary>AttentionMask.LowerBounds: [B, 2, T].</summary>
        public int* Lo { get; init; }

        /// <summary>At bf16, the operands packed once for the whole call, tile by tile (AttentionBf16.cs); null at float32.</summary>
        public float* Packed { get; init; }

        public int KvHead(int h) => h / (Hq / Hkv);

        public long QIndex(int b, int t, int h) => ((long)b * T + t) * Ldq + (long)h * D;

        public long KIndex(int b, int j, int kvh) => ((long)b * S + j) * Ldk + (long)kvh * D;

        public long LseIndex(int b, int h, int t) => ((long)b * Hq + h) * T + t;

        public long PartialIndex(int chunk, int b, int h, int t) => ((((long)chunk * B + b) * Hq + h) * T + t) * D64;

        public int* RowLo(int b, int h) => Lo + ((long)b * 2 + (h < FirstShifted ? 0 : 1)) * T;

        /// <summary>The last key query t sees at most: its position, cut to the call's keys.</summary>
        public int Hi(int t) => Math.Min(t + Offset, S - 1);

        /// <summary>Key range [lo, hi] of query rows [t0, t0 + rows) into lo/hi[0, 64); later rows see nothing.</summary>
        public void RowBounds(int* lo, int* hi, int b, int h, int t0, int rows)
        {
            int* rowLo = RowLo(b, h);
            for (int i = 0; i < Tile; i++)
            {
                lo[i] = i < rows ? rowLo[t0 + i] : int.MaxValue;
                hi[i] = i < rows ? Hi(t0 + i) : -1;
            }
        }
    }

    /// <summary>The masks' lower bounds, pinned for the call and counted as the kernel's memory.</summary>
    private readonly struct Bounds : IDisposable
    {
        private readonly int[] _lo;
        private readonly GCHandle _pin;

        public Bounds(int[] lo)
        {
            _lo = lo;
            _pin = GCHandle.Alloc(lo, GCHandleType.Pinned);
            AttentionMemory.Count((long)lo.Length * sizeof(int));
        }

        public int* Lo => (int*)_pin.AddrOfPinnedObject();

        public void Dispose()
        {
            _pin.Free();
            AttentionMemory.Count(-(long)_lo.Length * sizeof(int));
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
            _base = (float*)AttentionMemory.Alloc(Bytes(n));
        }

        /// <summary>What a scratch of room for n takes: n and the padding of 16 pieces.</summary>
        public static long Bytes(long n) => (n + 16 * Align) * sizeof(float);

        public float* Floats(long n)
        {
            float* p = _base + _used;
            _used += (n + Align - 1) / Align * Align;
            if (_used > _capacity)
                throw new InvalidOperationException("attention scratch sized too small");
            return p;
        }

        public int* Ints(long n) => (int*)Floats(n);

        public void Dispose() => AttentionMemory.Free(_base, _capacity * sizeof(float));
    }
}
