using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RawLongLoRA.Kernels.Cpu;

public static unsafe partial class Attention
{
    /// <summary>Chunks of key tiles per (batch, kv head) at most: each costs a dq-sized partial.</summary>
    private const int MaxChunks = 8;

    /// <summary>
    /// dq like q; dk, dv like k; all written, not accumulated. lse is what Forward kept; dlse (laid out as lse, or
    /// null) is lse's own gradient where the call is a part to be merged: it enters as dS = P ∘ (dP − D + dlse).
    /// </summary>
    /// <remarks>At <see cref="Precision.Bf16"/> (the forward's) the tile products take bf16 operands and sum in float32 (AttentionBf16.cs).</remarks>
    public static void Backward(float* dq, float* dk, float* dv, float* dout, float* q, float* k, float* v, float* o, float* lse, int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec,
                                float* dlse = null, Precision precision = Precision.F32)
    {
        int chunks = ChunksPerPair(b * hkv, Tiles(s, Tile), CpuThreads.Count);
        var tiles = TilesFor(precision);
        if (Vector512.IsHardwareAccelerated)
            BackwardCounted<V512>(dq, dk, dv, dout, q, k, v, o, lse, b, t, s, hq, hkv, d, spec, chunks, dlse, tiles);
        else if (Vector256.IsHardwareAccelerated)
            BackwardCounted<V256>(dq, dk, dv, dout, q, k, v, o, lse, b, t, s, hq, hkv, d, spec, chunks, dlse, tiles);
        else
            BackwardCounted<V128>(dq, dk, dv, dout, q, k, v, o, lse, b, t, s, hq, hkv, d, spec, chunks, dlse, tiles);
    }

    /// <summary>
    /// Backward as FlashAttention-2 computes it — D_i = rowsum(dO ∘ O) first, probabilities recomputed
    /// from lse — in one sweep: a work item owns some key tiles of one (batch, kv head) and, for every
    /// query that sees a tile (in every head sharing the kv head), forms P and dS once and adds to that
    /// tile's dk and dv and to the queries' dq. dk and dv have one writer each; dq is summed in a partial
    /// per chunk of key tiles, and the partials are added in chunk order at the end, so nothing races and
    /// the result does not depend on scheduling. At vector type TV, with chunks of key tiles per (batch,
    /// kv head) — <see cref="ChunksPerPair"/> unless a test asks for more. Returns the scores computed. The bf16 sweep
    /// leaves the softmax scale out of its dq partials (FlashAttention-2 scales dq once at the end), so it is applied as they are summed.
    /// </summary>
    internal static long BackwardCounted<TV>(float* dq, float* dk, float* dv, float* dout, float* q, float* k, float* v, float* o, float* lse, int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec, int chunks, float* dlse = null,
                                             AttentionTiles tiles = AttentionTiles.F32)
        where TV : unmanaged, IVec<TV>
    {
        using var bounds = Prepare(b, t, s, hq, hkv, d, spec);
        int pairs = b * hkv;
        int d64 = Tiles(d, Tile) * Tile;
        long rowsOfD = (long)b * hq * t;
        using var scratch = new Scratch(SweepFloats(rowsOfD, chunks, d64));
        float* delta = scratch.Floats(rowsOfD), partials = scratch.Floats(chunks * rowsOfD * d64);
        var p = new Problem(b, t, s, hq, hkv, d, spec)
        {
            Q = q, K = k, V = v, O = o, Lse = lse, DOut = dout, DQ = dq, DK = dk, DV = dv, Delta = delta, DLse = dlse, Lo = bounds.Lo, DqPartials = partials,
        };
        using var packed = tiles == AttentionTiles.F32 ? null : PackOperands<TV>(ref p, tiles, queries: true);
        CpuThreads.ForRange((long)b * t, 64, (start, end) => RowDots<TV>(p, start, end));
        long work = 0;
        CpuThreads.For(pairs * chunks, item => Interlocked.Add(ref work, tiles switch
        {
            AttentionTiles.Bf16Pairs => KeyTilesBf16<TV, PairTiles>(p, item / chunks, item % chunks, chunks),
            AttentionTiles.Bf16Rounded => KeyTilesBf16<TV, RoundedTiles<TV>>(p, item / chunks, item % chunks, chunks),
            _ => KeyTiles<TV>(p, item / chunks, item % chunks, chunks),
        }));
        float dqScale = tiles == AttentionTiles.F32 ? 1f : p.Scale;
        CpuThreads.ForRange((long)b * t, 64, (start, end) => SumPartials<TV>(p, chunks, start, end, dqScale));
        return work;
    }

    /// <summary>
    /// Chunks per (batch, kv head): one where those pairs alone share evenly among the threads or give
    /// each thread four; else the fewest that do, up to <see cref="MaxChunks"/>. A chunk takes every
    /// C-th key tile, so under a causal mask (early key tiles see the most queries) chunks cost alike.
    /// </summary>
    private static int ChunksPerPair(int pairs, int keyTiles, int threads)
    {
        int chunks = 1;
        while (chunks < Math.Min(MaxChunks, keyTiles) && pairs * chunks % threads != 0 && pairs * chunks < 4 * threads)
            chunks++;
        return chunks;
    }

    /// <summary>The sweep's scratch: D per query row and the dq partials of every chunk.</summary>
    private static long SweepFloats(long rowsOfD, int chunks, int d64) => rowsOfD + chunks * rowsOfD * d64;

    /// <summary>A work item's tiles: k, v, dk, dv transposed, k's rows, P and dS, the row bounds.</summary>
    private static long KeyTileFloats(int d, int d64) => 4 * d * Tile + Tile * d64 + 2 * Tile * Tile + 4 * Tile;

    /// <summary>
    /// The most bytes <see cref="Backward"/> holds beyond its arguments for this shape on
    /// <paramref name="threads"/> threads — the mask bounds, the sweep's scratch and each thread's tiles,
    /// as <see cref="AttentionMemory"/> counts them (forward holds less): what a memory plan adds to the
    /// tensors' peak while a decoder layer's attention runs backward.
    /// </summary>
    public static long BackwardWorkspaceBytes(int b, int t, int s, int hq, int hkv, int d, int threads, Precision precision = Precision.F32)
    {
        int d64 = Tiles(d, Tile) * Tile;
        int chunks = ChunksPerPair(b * hkv, Tiles(s, Tile), threads);
        long bounds = 2L * b * t * sizeof(int);
        var tiles = TilesFor(precision);
        long perThread = tiles == AttentionTiles.F32 ? KeyTileFloats(d, d64) : KeyTileFloatsBf16(d, d64);
        long packed = tiles == AttentionTiles.F32 ? 0 : Scratch.Bytes(PackedQueryFloats(tiles, b, t, hq, d));
        return bounds + Scratch.Bytes(SweepFloats((long)b * hq * t, chunks, d64)) + packed + threads * Scratch.Bytes(perThread);
    }

    /// <summary>dk and dv of key tiles chunk, chunk + chunks, … of one (batch, kv head), and their share of dq.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long KeyTiles<TV>(in Problem p, int pair, int chunk, int chunks)
        where TV : unmanaged, IVec<TV>
    {
        int b = pair / p.Hkv, kvh = pair % p.Hkv, group = p.Hq / p.Hkv, d = p.D, d64 = p.D64;
        using var scratch = new Scratch(KeyTileFloats(d, d64));
        float* kt = scratch.Floats(d * Tile), vt = scratch.Floats(d * Tile), dkt = scratch.Floats(d * Tile), dvt = scratch.Floats(d * Tile);
        float* ks = scratch.Floats(Tile * d64), sp = scratch.Floats(Tile * Tile), dp = scratch.Floats(Tile * Tile);
        int* lo = scratch.Ints(Tile), hi = scratch.Ints(Tile);

        long work = 0;
        for (int j0 = chunk * Tile; j0 < p.S; j0 += chunks * Tile)
        {
            int cols = Math.Min(Tile, p.S - j0);
            float* kj = p.K + p.KIndex(b, j0, kvh);
            // S = Q·(scale·K)ᵀ and dP = dO·Vᵀ take the key tile transposed; dQ += dS·(scale·K) takes its rows.
            LoadTransposed(kt, kj, p.Ldk, cols, d, p.Scale);
            LoadTransposed(vt, p.V + p.KIndex(b, j0, kvh), p.Ldk, cols, d, 1f);
            LoadRows<TV>(ks, d64, kj, p.Ldk, cols, d, p.Scale);
            new Span<float>(dkt, d * Tile).Clear();
            new Span<float>(dvt, d * Tile).Clear();
            for (int h = kvh * group; h < (kvh + 1) * group; h++)
            {
                // Queries seeing the tile: from the first whose causal bound reaches j0 to the last whose lo is within it.
                int tEnd = AttentionMask.FirstQueryPast(new ReadOnlySpan<int>(p.RowLo(b, h), p.T), j0 + cols - 1);
                for (int t0 = Math.Max(0, j0 - p.Offset); t0 < tEnd; t0 += Tile)
                {
                    p.RowBounds(lo, hi, b, h, t0, Math.Min(Tile, tEnd - t0));
                    var (r0, r1) = RowsSeeing(lo, hi, Math.Min(Tile, tEnd - t0), j0, cols);
                    int n = r1 - r0;
                    if (n == 0)
                        continue;
                    float* qi = p.Q + p.QIndex(b, t0 + r0, h), doi = p.DOut + p.QIndex(b, t0 + r0, h);
                    Prefetch(p.Q + p.QIndex(b, t0 + Tile, h), p.Ldq, tEnd - t0 - Tile, d);
                    Prefetch(p.DOut + p.QIndex(b, t0 + Tile, h), p.Ldq, tEnd - t0 - Tile, d);
                    TileGemm<TV>(sp, Tile, qi, p.Ldq, 1, kt, Tile, n, d, accumulate: false);
                    TileGemm<TV>(dp, Tile, doi, p.Ldq, 1, vt, Tile, n, d, accumulate: false);
                    ScoreGradients<TV, Float32Exp>(p, sp, dp, b, h, t0 + r0, lo + r0, hi + r0, n, j0, cols);
                    // dVᵀ += dOᵀ·P and dKᵀ += Qᵀ·dS: the transposes are strides, not copies.
                    TileGemm<TV>(dvt, Tile, doi, 1, p.Ldq, sp, Tile, d, n, accumulate: true);
                    TileGemm<TV>(dkt, Tile, qi, 1, p.Ldq, dp, Tile, d, n, accumulate: true);
                    TileGemm<TV>(p.DqPartials + p.PartialIndex(chunk, b, h, t0 + r0), d64, dp, Tile, 1, ks, d64, n, cols, accumulate: true, d64);
                    work += (long)n * cols;
                }
            }
            StoreTransposed(p.DK + p.KIndex(b, j0, kvh), p.Ldk, dkt, cols, d, p.Scale);
            StoreTransposed(p.DV + p.KIndex(b, j0, kvh), p.Ldk, dvt, cols, d, 1f);
        }
        return work;
    }

    /// <summary>
    /// For n query rows from t (bounds lo, hi) against the key tile at j0: sp = P = exp(S − lse) and
    /// dp = dS = P ∘ (dP − D_i), both zero where masked and past cols; exp as TE computes it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoreGradients<TV, TE>(in Problem p, float* sp, float* dp, int b, int h, int t, int* lo, int* hi, int n, int j0, int cols)
        where TV : unmanaged, IVec<TV>
        where TE : IAttentionExp
    {
        bool whole = cols == Tile && lo[n - 1] <= j0 && hi[0] >= j0 + Tile - 1;
        for (int i = 0; i < n; i++)
        {
            var lse = TV.Splat(p.Lse[p.LseIndex(b, h, t + i)]);
            var delta = TV.Splat(p.Delta[p.LseIndex(b, h, t + i)]);
            float* x = sp + i * Tile, y = dp + i * Tile;
            for (int v = 0; v < Tile; v += TV.Count)
            {
                var prob = TE.Exp(TV.Load(x + v) - lse);
                prob.Store(x + v);
                (prob * (TV.Load(y + v) - delta)).Store(y + v);
            }
            if (whole)
                continue;
            // Keys [from, to) of the tile are the row's: the others are zero.
            int from = Math.Clamp(lo[i] - j0, 0, cols), to = Math.Max(from, Math.Clamp(hi[i] - j0 + 1, 0, cols));
            new Span<float>(x, from).Clear();
            new Span<float>(x + to, Tile - to).Clear();
            new Span<float>(y, from).Clear();
            new Span<float>(y + to, Tile - to).Clear();
        }
    }

    /// <summary>D_i = rowsum(dO ∘ O) − dlse_i for tokens [start, end) of the B·T stream, every head.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowDots<TV>(in Problem p, long start, long end)
        where TV : unmanaged, IVec<TV>
    {
        for (long r = start; r < end; r++)
        {
            int b = (int)(r / p.T), t = (int)(r % p.T);
            for (int h = 0; h < p.Hq; h++)
                p.Delta[p.LseIndex(b, h, t)] = Dot<TV>(p.DOut + p.QIndex(b, t, h), p.O + p.QIndex(b, t, h), p.D) - (p.DLse == null ? 0f : p.DLse[p.LseIndex(b, h, t)]);
        }
    }

    /// <summary>dq of tokens [start, end) of the B·T stream: the chunks' partials, added in chunk order, times factor.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SumPartials<TV>(in Problem p, int chunks, long start, long end, float factor)
        where TV : unmanaged, IVec<TV>
    {
        for (long r = start; r < end; r++)
        {
            int b = (int)(r / p.T), t = (int)(r % p.T);
            for (int h = 0; h < p.Hq; h++)
            {
                float* dst = p.DQ + p.QIndex(b, t, h);
                new Span<float>(p.DqPartials + p.PartialIndex(0, b, h, t), p.D).CopyTo(new Span<float>(dst, p.D));
                for (int c = 1; c < chunks; c++)
                    Axpy<TV>(dst, 1f, p.DqPartials + p.PartialIndex(c, b, h, t), p.D, accumulate: true);
                if (factor != 1f)
                    for (int c = 0; c < p.D; c++)
                        dst[c] *= factor;
            }
        }
    }
}
