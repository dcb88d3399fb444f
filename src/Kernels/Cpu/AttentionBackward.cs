using System.Numerics;
using System.Runtime.InteropServices;

namespace RawLongLoRA.Kernels.Cpu;

public static unsafe partial class Attention
{
    /// <summary>dq like q; dk, dv like k; all written, not accumulated. lse is what Forward kept.</summary>
    public static void Backward(float* dq, float* dk, float* dv, float* dout, float* q, float* k, float* v, float* o, float* lse, int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec)
        => BackwardCounted(dq, dk, dv, dout, q, k, v, o, lse, b, t, s, hq, hkv, d, spec);

    /// <summary>
    /// Backward as FlashAttention-2 computes it — D_i = rowsum(dO ∘ O) first, probabilities recomputed
    /// from lse — in two sweeps, so no two threads ever add into the same gradient and results do not
    /// depend on scheduling: dk/dv per (batch, kv head, key tile) over the queries that see it (all
    /// the heads sharing that kv head), then dq per (batch, head, query tile) over its keys. The
    /// second sweep recomputes P and dP once more, the price of having no atomics. Returns the scores
    /// computed over both sweeps.
    /// </summary>
    internal static long BackwardCounted(float* dq, float* dk, float* dv, float* dout, float* q, float* k, float* v, float* o, float* lse, int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec)
    {
        int[] lowerBounds = Prepare(b, t, s, hq, hkv, d, spec);
        long work = 0;
        float* delta = (float*)NativeMemory.Alloc((nuint)((long)b * hq * t), sizeof(float));
        try
        {
            fixed (int* lo = lowerBounds)
            {
                var p = new Problem(b, t, s, hq, hkv, d, spec)
                {
                    Q = q, K = k, V = v, O = o, Lse = lse, DOut = dout, DQ = dq, DK = dk, DV = dv, Delta = delta, Lo = lo,
                };
                CpuThreads.ForRange((long)b * t, 64, (start, end) => RowDots(p, start, end));
                int keyTiles = Tiles(s, Bc), queryTiles = Tiles(t, Br);
                // Causally, early key tiles are seen by the most queries and late query tiles see the most keys: heavy items first.
                CpuThreads.For(b * hkv * keyTiles, item =>
                    Interlocked.Add(ref work, KeyTileGradients(p, item / keyTiles, item % keyTiles)));
                CpuThreads.For(b * hq * queryTiles, item =>
                    Interlocked.Add(ref work, QueryTileGradient(p, item / queryTiles, queryTiles - 1 - item % queryTiles)));
            }
        }
        finally
        {
            NativeMemory.Free(delta);
        }
        return work;
    }

    /// <summary>dk and dv of one key tile, summed over every query (of every head in its group) that sees it.</summary>
    private static long KeyTileGradients(in Problem p, int bkv, int tile)
    {
        int b = bkv / p.Hkv, kvh = bkv % p.Hkv, group = p.Hq / p.Hkv;
        int j0 = tile * Bc, cols = Math.Min(Bc, p.S - j0);
        int dp = p.Dp;
        using var scratch = new Scratch(4 * Bc * dp + 2 * Br * dp + 2 * Br * Bc + 4 * Br);
        float* kt = scratch.Floats(dp * Bc), vt = scratch.Floats(dp * Bc), dkAcc = scratch.Floats(Bc * dp), dvAcc = scratch.Floats(Bc * dp);
        float* qs = scratch.Floats(Br * dp), dos = scratch.Floats(Br * dp), sc = scratch.Floats(Br * Bc), ds = scratch.Floats(Br * Bc);
        float* lseT = scratch.Floats(Br), deltaT = scratch.Floats(Br);
        int* lo = scratch.Ints(Br), hi = scratch.Ints(Br);

        LoadTransposed(kt, p.K + p.KIndex(b, j0, kvh), p.Hkv * p.D, cols, p.D);
        LoadTransposed(vt, p.V + p.KIndex(b, j0, kvh), p.Hkv * p.D, cols, p.D);
        long work = 0;
        for (int h = kvh * group; h < (kvh + 1) * group; h++)
        {
            // Queries seeing the tile: from the first whose causal bound reaches j0 to the last whose lo is within it.
            int tEnd = AttentionMask.FirstQueryPast(new ReadOnlySpan<int>(p.RowLo(b, h), p.T), j0 + cols - 1);
            for (int t0 = Math.Max(0, j0 - p.Offset); t0 < tEnd; t0 += Br)
            {
                int rows = Math.Min(Br, tEnd - t0);
                LoadQueryTile(p, qs, dos, lseT, deltaT, lo, hi, b, h, t0, rows);
                var (r0, r1) = RowsSeeing(lo, hi, rows, j0, cols);
                ProbabilitiesAndScoreGrads(sc, ds, qs, dos, kt, vt, lseT, deltaT, lo, hi, r0, r1, j0, p.D, dp);
                // dV += Pᵀ dO and dK += dSᵀ (scale·Q): the transposes are strides, not copies.
                TileGemm(dvAcc, dp, sc + r0 * Bc, 1, Bc, dos + r0 * dp, dp, Bc, dp, r1 - r0, accumulate: true);
                TileGemm(dkAcc, dp, ds + r0 * Bc, 1, Bc, qs + r0 * dp, dp, Bc, dp, r1 - r0, accumulate: true);
                work += (long)(r1 - r0) * Bc;
            }
        }

        for (int j = 0; j < cols; j++)
        {
            long at = p.KIndex(b, j0 + j, kvh);
            for (int c = 0; c < p.D; c++)
            {
                p.DK[at + c] = dkAcc[j * dp + c];
                p.DV[at + c] = dvAcc[j * dp + c];
            }
        }
        return work;
    }

    /// <summary>dq of one query tile: scale · Σ over its key tiles of dS K.</summary>
    private static long QueryTileGradient(in Problem p, int bh, int tile)
    {
        int b = bh / p.Hq, h = bh % p.Hq, kvh = p.KvHead(h);
        int t0 = tile * Br, rows = Math.Min(Br, p.T - t0);
        int dp = p.Dp;
        using var scratch = new Scratch(3 * Br * dp + 3 * Bc * dp + 2 * Br * Bc + 4 * Br);
        float* qs = scratch.Floats(Br * dp), dos = scratch.Floats(Br * dp), acc = scratch.Floats(Br * dp);
        float* kt = scratch.Floats(dp * Bc), vt = scratch.Floats(dp * Bc), ks = scratch.Floats(Bc * dp);
        float* sc = scratch.Floats(Br * Bc), ds = scratch.Floats(Br * Bc), lseT = scratch.Floats(Br), deltaT = scratch.Floats(Br);
        int* lo = scratch.Ints(Br), hi = scratch.Ints(Br);

        LoadQueryTile(p, qs, dos, lseT, deltaT, lo, hi, b, h, t0, rows);
        long work = 0;
        int kEnd = hi[rows - 1] + 1;
        for (int j0 = lo[0]; j0 < kEnd; j0 += Bc)
        {
            int cols = Math.Min(Bc, kEnd - j0);
            var (r0, r1) = RowsSeeing(lo, hi, rows, j0, cols);
            float* kj = p.K + p.KIndex(b, j0, kvh), vj = p.V + p.KIndex(b, j0, kvh);
            LoadTransposed(kt, kj, p.Hkv * p.D, cols, p.D);
            LoadTransposed(vt, vj, p.Hkv * p.D, cols, p.D);
            LoadRows(ks, kj, p.Hkv * p.D, cols, cols, p.D, dp, 1f);
            ProbabilitiesAndScoreGrads(sc, ds, qs, dos, kt, vt, lseT, deltaT, lo, hi, r0, r1, j0, p.D, dp);
            TileGemm(acc + r0 * dp, dp, ds + r0 * Bc, Bc, 1, ks, dp, r1 - r0, dp, cols, accumulate: true);
            work += (long)(r1 - r0) * Bc;
        }

        for (int i = 0; i < rows; i++)
        {
            float* dst = p.DQ + p.QIndex(b, t0 + i, h);
            for (int c = 0; c < p.D; c++)
                dst[c] = acc[i * dp + c] * p.Scale;
        }
        return work;
    }

    /// <summary>
    /// For rows [r0, r1) against the key tile at j0: sc = P = exp(S − lse) and ds = dS = P ∘ (dO Vᵀ − D_i),
    /// both zero where masked.
    /// </summary>
    private static void ProbabilitiesAndScoreGrads(float* sc, float* ds, float* qs, float* dos, float* kt, float* vt, float* lseT, float* deltaT, int* lo, int* hi, int r0, int r1, int j0, int d, int dp)
    {
        Scores(sc, qs, kt, lo, hi, r0, r1, j0, d, dp);
        TileGemm(ds + r0 * Bc, Bc, dos + r0 * dp, dp, 1, vt, Bc, r1 - r0, Bc, d, accumulate: false);
        int w = Vector<float>.Count;
        for (int i = r0; i < r1; i++)
        {
            float* pRow = sc + i * Bc, dRow = ds + i * Bc;
            ExpRow(pRow, lseT[i]);
            var delta = new Vector<float>(deltaT[i]);
            for (int j = 0; j < Bc; j += w)
                (Vector.Load(pRow + j) * (Vector.Load(dRow + j) - delta)).Store(dRow + j);
        }
    }

    /// <summary>A query tile's scaled q, dO, lse, D and key bounds; padding rows up to a multiple of 4 are zero.</summary>
    private static void LoadQueryTile(in Problem p, float* qs, float* dos, float* lseT, float* deltaT, int* lo, int* hi, int b, int h, int t0, int rows)
    {
        int pad = (rows + 3) & ~3;
        p.RowBounds(lo, hi, b, h, t0, rows);
        LoadRows(qs, p.Q + p.QIndex(b, t0, h), p.Hq * p.D, rows, pad, p.D, p.Dp, p.Scale);
        LoadRows(dos, p.DOut + p.QIndex(b, t0, h), p.Hq * p.D, rows, pad, p.D, p.Dp, 1f);
        for (int i = 0; i < Br; i++)
        {
            lseT[i] = i < rows ? p.Lse[p.LseIndex(b, h, t0 + i)] : 0f;
            deltaT[i] = i < rows ? p.Delta[p.LseIndex(b, h, t0 + i)] : 0f;
        }
    }

    /// <summary>D_i = rowsum(dO ∘ O) for tokens [start, end) of the B·T stream, every head.</summary>
    private static void RowDots(in Problem p, long start, long end)
    {
        int w = Vector<float>.Count;
        for (long r = start; r < end; r++)
        {
            int b = (int)(r / p.T), t = (int)(r % p.T);
            for (int h = 0; h < p.Hq; h++)
            {
                float* x = p.DOut + p.QIndex(b, t, h), y = p.O + p.QIndex(b, t, h);
                var acc = Vector<float>.Zero;
                int c = 0;
                for (; c <= p.D - w; c += w)
                    acc = Vector.MultiplyAddEstimate(Vector.Load(x + c), Vector.Load(y + c), acc);
                float sum = Vector.Sum(acc);
                for (; c < p.D; c++)
                    sum += x[c] * y[c];
                p.Delta[p.LseIndex(b, h, t)] = sum;
            }
        }
    }
}
