using System.Runtime.CompilerServices;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Both passes at <see cref="Precision.Bf16"/>, as FlashAttention-2 computes in bf16: q, k, v and dO rounded to
/// bf16 (nearest even) as each tile is packed, S = QKᵀ and dP = dO·Vᵀ on them with float32 sums, the softmax,
/// its rescaling, lse, P and dS in float32 (the float32 passes' own code), P and dS rounded to bf16 before
/// P·V, dV = Pᵀ·dO, dK = dSᵀ·Q and dQ = dS·K; the softmax scale multiplies S and the finished dq and dk in
/// float32, not the bf16 operands. The tiles and masks walk as in the float32 passes; only the products differ
/// (<see cref="IBf16Tiles"/>): every operand is packed once per tile it serves.
/// </summary>
public static unsafe partial class Attention
{
    /// <summary>A forward work item's scratch at bf16: q, k, Vᵀ, P packed; oᵀ, Sᵀ; m, l and the row bounds.</summary>
    private static long ForwardTileFloatsBf16(int d) =>
        2 * OperandFloats(Tile, d) + OperandFloats(d, Tile) + OperandFloats(Tile, Tile) + d * Tile + Tile * Tile + 4 * Tile;

    /// <summary>A backward work item's scratch at bf16: k, v (k twice) packed, q, dO, their transposes, one P/dS operand; dkᵀ, dvᵀ, P, dS, bounds.</summary>
    private static long KeyTileFloatsBf16(int d, int d64) =>
        4 * OperandFloats(Tile, d) + 2 * OperandFloats(d, Tile) + OperandFloats(d64, Tile) + OperandFloats(Tile, Tile) + 2 * d * Tile + 2 * Tile * Tile + 2 * Tile;

    /// <summary><see cref="ForwardQueryTile{TV}"/> with TT's products: Sᵀ = scale·K·Qᵀ, then oᵀ += Vᵀ·Pᵀ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long ForwardQueryTileBf16<TV, TT>(in Problem p, int bh, int t0, int rows)
        where TV : unmanaged, IVec<TV>
        where TT : IBf16Tiles
    {
        int b = bh / p.Hq, h = bh % p.Hq, kvh = p.KvHead(h), d = p.D;
        using var scratch = new Scratch(ForwardTileFloatsBf16(d));
        float* qb = scratch.Floats(OperandFloats(Tile, d)), kb = scratch.Floats(OperandFloats(Tile, d));
        float* vb = scratch.Floats(OperandFloats(d, Tile)), pb = scratch.Floats(OperandFloats(Tile, Tile));
        float* ot = scratch.Floats(d * Tile), st = scratch.Floats(Tile * Tile), m = scratch.Floats(Tile), l = scratch.Floats(Tile);
        int* lo = scratch.Ints(Tile), hi = scratch.Ints(Tile);

        p.RowBounds(lo, hi, b, h, t0, rows);
        TT.PackB(qb, p.Q + p.QIndex(b, t0, h), p.Ldq, 1, rows, d, Tile);
        new Span<float>(m, Tile).Fill(float.NegativeInfinity);

        long work = 0;
        var (kStart, kEnd) = KeysSeen(lo, hi, rows);
        for (int j0 = kStart; j0 < kEnd; j0 += Tile)
        {
            int cols = Math.Min(Tile, kEnd - j0);
            float* kj = p.K + p.KIndex(b, j0, kvh), vj = p.V + p.KIndex(b, j0, kvh);
            Prefetch(kj + Tile * p.Ldk, p.Ldk, kEnd - j0 - Tile, d);
            Prefetch(vj + Tile * p.Ldk, p.Ldk, kEnd - j0 - Tile, d);
            TT.PackA(kb, kj, p.Ldk, 1, cols, d);
            TT.Product(st, Tile, kb, qb, cols, Tile, d, p.Scale, accumulate: false);
            if (lo[rows - 1] > j0 || hi[0] < j0 + cols - 1)
                MaskColumns(st, lo, hi, rows, j0, cols);
            OnlineSoftmax<TV>(st, cols, m, l, ot, d);
            TT.PackA(vb, vj, 1, p.Ldk, d, cols);
            TT.PackB(pb, st, 1, Tile, Tile, cols, Tile);
            TT.Product(ot, Tile, vb, pb, d, Tile, cols, 1f, accumulate: true);
            work += (long)cols * rows;
        }
        FinishQueryTile<TV>(p, b, h, t0, rows, m, l, ot);
        return work;
    }

    /// <summary>
    /// <see cref="KeyTiles{TV}"/> with TT's products. A key tile's k and v are packed once for all the queries that
    /// see it; each query tile's q and dO once in rows (for S, dP) and once transposed (for dkᵀ, dvᵀ). dq's
    /// partials are left unscaled (BackwardCounted scales them as it sums them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long KeyTilesBf16<TV, TT>(in Problem p, int pair, int chunk, int chunks)
        where TV : unmanaged, IVec<TV>
        where TT : IBf16Tiles
    {
        int b = pair / p.Hkv, kvh = pair % p.Hkv, group = p.Hq / p.Hkv, d = p.D, d64 = p.D64;
        using var scratch = new Scratch(KeyTileFloatsBf16(d, d64));
        float* kb = scratch.Floats(OperandFloats(Tile, d)), vb = scratch.Floats(OperandFloats(Tile, d)), kd = scratch.Floats(OperandFloats(d64, Tile));
        float* qa = scratch.Floats(OperandFloats(Tile, d)), doa = scratch.Floats(OperandFloats(Tile, d));
        float* qt = scratch.Floats(OperandFloats(d, Tile)), dot = scratch.Floats(OperandFloats(d, Tile)), sb = scratch.Floats(OperandFloats(Tile, Tile));
        float* dkt = scratch.Floats(d * Tile), dvt = scratch.Floats(d * Tile), sp = scratch.Floats(Tile * Tile), dp = scratch.Floats(Tile * Tile);
        int* lo = scratch.Ints(Tile), hi = scratch.Ints(Tile);

        long work = 0;
        for (int j0 = chunk * Tile; j0 < p.S; j0 += chunks * Tile)
        {
            int cols = Math.Min(Tile, p.S - j0);
            float* kj = p.K + p.KIndex(b, j0, kvh), vj = p.V + p.KIndex(b, j0, kvh);
            // S = Q·Kᵀ and dP = dO·Vᵀ take the key tile's rows as B's columns; dQ += dS·K takes its columns.
            TT.PackB(kb, kj, p.Ldk, 1, cols, d, Tile);
            TT.PackB(vb, vj, p.Ldk, 1, cols, d, Tile);
            TT.PackB(kd, kj, 1, p.Ldk, d, cols, d64);
            new Span<float>(dkt, d * Tile).Clear();
            new Span<float>(dvt, d * Tile).Clear();
            for (int h = kvh * group; h < (kvh + 1) * group; h++)
            {
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
                    TT.PackA(qa, qi, p.Ldq, 1, n, d);
                    TT.PackA(doa, doi, p.Ldq, 1, n, d);
                    TT.Product(sp, Tile, qa, kb, n, Tile, d, p.Scale, accumulate: false);
                    TT.Product(dp, Tile, doa, vb, n, Tile, d, 1f, accumulate: false);
                    ScoreGradients<TV>(p, sp, dp, b, h, t0 + r0, lo + r0, hi + r0, n, j0, cols);
                    // dVᵀ += dOᵀ·P, dKᵀ += Qᵀ·dS, dQ += dS·K; P and dS are rounded as they are packed, one after the other into sb.
                    TT.PackA(dot, doi, 1, p.Ldq, d, n);
                    TT.PackB(sb, sp, 1, Tile, cols, n, Tile);
                    TT.Product(dvt, Tile, dot, sb, d, Tile, n, 1f, accumulate: true);
                    TT.PackA(qt, qi, 1, p.Ldq, d, n);
                    TT.PackB(sb, dp, 1, Tile, cols, n, Tile);
                    TT.Product(dkt, Tile, qt, sb, d, Tile, n, 1f, accumulate: true);
                    TT.PackA(sb, dp, Tile, 1, n, cols);
                    TT.Product(p.DqPartials + p.PartialIndex(chunk, b, h, t0 + r0), d64, sb, kd, n, d64, cols, 1f, accumulate: true);
                    work += (long)n * cols;
                }
            }
            StoreTransposed(p.DK + p.KIndex(b, j0, kvh), p.Ldk, dkt, cols, d, p.Scale);
            StoreTransposed(p.DV + p.KIndex(b, j0, kvh), p.Ldk, dvt, cols, d, 1f);
        }
        return work;
    }
}
