using System.Runtime.CompilerServices;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Both passes at <see cref="Precision.Bf16"/>, as FlashAttention-2 computes in bf16: q, k, v and dO rounded to
/// bf16 (nearest even) as they are packed, S = QKᵀ and dP = dO·Vᵀ on them with float32 sums, the softmax,
/// its rescaling, lse, P and dS in float32 (the float32 passes' own code), P and dS rounded to bf16 before
/// P·V, dV = Pᵀ·dO, dK = dSᵀ·Q and dQ = dS·K; the softmax scale multiplies S and the finished dq and dk in
/// float32, not the bf16 operands. The masks walk as in the float32 passes, over whole 64-aligned tiles
/// (what the mask leaves of a tile is masked) so that every operand is packed once per call: the forward
/// packs all key tiles' k and vᵀ, the backward all query tiles' q, dO and their transposes, before the
/// sweep (a packing per visit cost as much as the products: 1–3 µs per 64 × 64 tile against 2 µs for a
/// 64³ product). Only P and dS, made per visit, are packed per visit.
/// </summary>
public static unsafe partial class Attention
{
    /// <summary>A forward work item's scratch at bf16: q and P packed; oᵀ, Sᵀ; m, l and the row bounds.</summary>
    private static long ForwardTileFloatsBf16(int d) => OperandFloats(Tile, d) + OperandFloats(Tile, Tile) + d * Tile + Tile * Tile + 4 * Tile;

    /// <summary>A backward work item's scratch at bf16: k, v and k's columns packed, one P/dS operand; dkᵀ, dvᵀ, P, dS, bounds.</summary>
    private static long KeyTileFloatsBf16(int d, int d64) =>
        2 * OperandFloats(Tile, d) + OperandFloats(d64, Tile) + OperandFloats(Tile, Tile) + 2 * d * Tile + 2 * Tile * Tile + 2 * Tile;

    /// <summary>The most floats an operand of this many lines of k values takes packed, as A or B, by either kind of tile.</summary>
    private static long OperandFloats(int lines, int k) =>
        Math.Max(Math.Max(PairTiles.AFloats(lines, k), PairTiles.BFloats(lines, k)), RoundedTiles<V128>.AFloats(lines, k));

    /// <summary>Floats of one key tile's packed k (rows, as A) and vᵀ (as A), in that order.</summary>
    private static long KeySlot<TT>(int d)
        where TT : IBf16Tiles => TT.AFloats(Tile, d) + TT.AFloats(d, Tile);

    /// <summary>Floats of one query tile's packed q and dO (rows, as A), then qᵀ and dOᵀ (as A).</summary>
    private static long QuerySlot<TT>(int d)
        where TT : IBf16Tiles => 2 * TT.AFloats(Tile, d) + 2 * TT.AFloats(d, Tile);

    /// <summary>What <see cref="PackOperands{TV}"/> holds for the backward for these sizes with these tiles.</summary>
    private static long PackedQueryFloats(AttentionTiles tiles, int b, int t, int hq, int d) =>
        (long)b * hq * Tiles(t, Tile) * (tiles == AttentionTiles.Bf16Pairs ? QuerySlot<PairTiles>(d) : QuerySlot<RoundedTiles<V128>>(d));

    /// <summary>
    /// Packs, into p.Packed, every (batch, kv head, key tile)'s k and vᵀ for the forward, or every (batch, head,
    /// query tile)'s q, dO, qᵀ and dOᵀ for the backward; the caller disposes the memory.
    /// </summary>
    private static Scratch PackOperands<TV>(ref Problem p, AttentionTiles tiles, bool queries)
        where TV : unmanaged, IVec<TV>
        => tiles == AttentionTiles.Bf16Pairs ? PackOperandsAs<PairTiles>(ref p, queries) : PackOperandsAs<RoundedTiles<TV>>(ref p, queries);

    private static Scratch PackOperandsAs<TT>(ref Problem p, bool queries)
        where TT : IBf16Tiles
    {
        var q = p;
        int d = q.D, keyTiles = Tiles(q.S, Tile), queryTiles = Tiles(q.T, Tile);
        long rows = TT.AFloats(Tile, d);
        if (!queries)
            return PackTiles(ref p, q.B * q.Hkv * keyTiles, KeySlot<TT>(d), (item, slot) =>
            {
                int pair = item / keyTiles, j0 = item % keyTiles * Tile, cols = Math.Min(Tile, q.S - j0);
                long at = q.KIndex(pair / q.Hkv, j0, pair % q.Hkv);
                TT.PackA(slot, q.K + at, q.Ldk, 1, cols, d);
                TT.PackA(slot + rows, q.V + at, 1, q.Ldk, d, cols);
            });
        return PackTiles(ref p, q.B * q.Hq * queryTiles, QuerySlot<TT>(d), (item, slot) =>
        {
            int bh = item / queryTiles, t0 = item % queryTiles * Tile, n = Math.Min(Tile, q.T - t0);
            long at = q.QIndex(bh / q.Hq, t0, bh % q.Hq);
            TT.PackA(slot, q.Q + at, q.Ldq, 1, n, d);
            TT.PackA(slot + rows, q.DOut + at, q.Ldq, 1, n, d);
            TT.PackA(slot + 2 * rows, q.Q + at, 1, q.Ldq, d, n);
            TT.PackA(slot + 2 * rows + TT.AFloats(d, Tile), q.DOut + at, 1, q.Ldq, d, n);
        });
    }

    private delegate void PackTile(int item, float* slot);

    /// <summary>Room for items slots of slot floats, filled by pack on all threads and set as p.Packed.</summary>
    private static Scratch PackTiles(ref Problem p, int items, long slot, PackTile pack)
    {
        var scratch = new Scratch(items * slot);
        float* packed = scratch.Floats(items * slot);
        CpuThreads.For(items, item => pack(item, packed + item * slot));
        p = p with { Packed = packed };
        return scratch;
    }

    /// <summary><see cref="ForwardQueryTile{TV}"/> with TT's products: Sᵀ = scale·K·Qᵀ, then oᵀ += Vᵀ·Pᵀ, over whole key tiles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long ForwardQueryTileBf16<TV, TT>(in Problem p, int bh, int t0, int rows)
        where TV : unmanaged, IVec<TV>
        where TT : IBf16Tiles
    {
        int b = bh / p.Hq, h = bh % p.Hq, kvh = p.KvHead(h), d = p.D, keyTiles = Tiles(p.S, Tile);
        long slot = KeySlot<TT>(d);
        using var scratch = new Scratch(ForwardTileFloatsBf16(d));
        float* qb = scratch.Floats(TT.BFloats(Tile, d)), pb = scratch.Floats(TT.BFloats(Tile, Tile));
        float* ot = scratch.Floats(d * Tile), st = scratch.Floats(Tile * Tile), m = scratch.Floats(Tile), l = scratch.Floats(Tile);
        int* lo = scratch.Ints(Tile), hi = scratch.Ints(Tile);

        p.RowBounds(lo, hi, b, h, t0, rows);
        TT.PackB(qb, p.Q + p.QIndex(b, t0, h), p.Ldq, 1, rows, d, Tile);
        new Span<float>(m, Tile).Fill(float.NegativeInfinity);

        long work = 0;
        var (kStart, kEnd) = KeysSeen(lo, hi, rows);
        for (int j0 = kStart / Tile * Tile; j0 < kEnd; j0 += Tile)
        {
            int cols = Math.Min(Tile, p.S - j0);
            float* kv = p.Packed + ((long)(b * p.Hkv + kvh) * keyTiles + j0 / Tile) * slot;
            TT.Product(st, Tile, kv, qb, cols, Tile, d, p.Scale, accumulate: false);
            if (lo[rows - 1] > j0 || hi[0] < j0 + cols - 1)
                MaskColumns(st, lo, hi, rows, j0, cols);
            OnlineSoftmax<TV, Bf16Exp>(st, cols, m, l, ot, d);
            TT.PackB(pb, st, 1, Tile, Tile, cols, Tile);
            TT.Product(ot, Tile, kv + TT.AFloats(Tile, d), pb, d, Tile, cols, 1f, accumulate: true);
            work += (long)cols * rows;
        }
        FinishQueryTile<TV>(p, b, h, t0, rows, m, l, ot);
        return work;
    }

    /// <summary>
    /// <see cref="KeyTiles{TV}"/> with TT's products, over whole query tiles (rows that do not see the key tile get
    /// P = dS = 0). A key tile's k and v are packed once for all the queries that see it. dq's partials are left
    /// unscaled (BackwardCounted scales them as it sums them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long KeyTilesBf16<TV, TT>(in Problem p, int pair, int chunk, int chunks)
        where TV : unmanaged, IVec<TV>
        where TT : IBf16Tiles
    {
        int b = pair / p.Hkv, kvh = pair % p.Hkv, group = p.Hq / p.Hkv, d = p.D, d64 = p.D64, queryTiles = Tiles(p.T, Tile);
        long slot = QuerySlot<TT>(d), rowsA = TT.AFloats(Tile, d), dimsA = TT.AFloats(d, Tile);
        using var scratch = new Scratch(KeyTileFloatsBf16(d, d64));
        float* kb = scratch.Floats(TT.BFloats(Tile, d)), vb = scratch.Floats(TT.BFloats(Tile, d)), kd = scratch.Floats(TT.BFloats(d64, Tile));
        float* sb = scratch.Floats(OperandFloats(Tile, Tile));
        float* dkt = scratch.Floats(d * Tile), dvt = scratch.Floats(d * Tile), sp = scratch.Floats(Tile * Tile), dp = scratch.Floats(Tile * Tile);
        int* lo = scratch.Ints(Tile), hi = scratch.Ints(Tile);

        long work = 0;
        for (int j0 = chunk * Tile; j0 < p.S; j0 += chunks * Tile)
        {
            int cols = Math.Min(Tile, p.S - j0);
            float* kj = p.K + p.KIndex(b, j0, kvh);
            // S = Q·Kᵀ and dP = dO·Vᵀ take the key tile's rows as B's columns; dQ += dS·K takes its columns.
            TT.PackB(kb, kj, p.Ldk, 1, cols, d, Tile);
            TT.PackB(vb, p.V + p.KIndex(b, j0, kvh), p.Ldk, 1, cols, d, Tile);
            TT.PackB(kd, kj, 1, p.Ldk, d, cols, d64);
            new Span<float>(dkt, d * Tile).Clear();
            new Span<float>(dvt, d * Tile).Clear();
            for (int h = kvh * group; h < (kvh + 1) * group; h++)
            {
                int tEnd = AttentionMask.FirstQueryPast(new ReadOnlySpan<int>(p.RowLo(b, h), p.T), j0 + cols - 1);
                for (int t0 = Math.Max(0, j0 - p.Offset) / Tile * Tile; t0 < tEnd; t0 += Tile)
                {
                    int n = Math.Min(Tile, p.T - t0);
                    p.RowBounds(lo, hi, b, h, t0, n);
                    var (r0, r1) = RowsSeeing(lo, hi, n, j0, cols);
                    if (r1 == r0)
                        continue;
                    float* qa = p.Packed + ((long)(b * p.Hq + h) * queryTiles + t0 / Tile) * slot;
                    TT.Product(sp, Tile, qa, kb, n, Tile, d, p.Scale, accumulate: false);
                    TT.Product(dp, Tile, qa + rowsA, vb, n, Tile, d, 1f, accumulate: false);
                    ScoreGradients<TV, Bf16Exp>(p, sp, dp, b, h, t0, lo, hi, n, j0, cols);
                    // dVᵀ += dOᵀ·P, dKᵀ += Qᵀ·dS, dQ += dS·K; P and dS are rounded as they are packed, one after the other into sb.
                    TT.PackB(sb, sp, 1, Tile, cols, n, Tile);
                    TT.Product(dvt, Tile, qa + 2 * rowsA + dimsA, sb, d, Tile, n, 1f, accumulate: true);
                    TT.PackB(sb, dp, 1, Tile, cols, n, Tile);
                    TT.Product(dkt, Tile, qa + 2 * rowsA, sb, d, Tile, n, 1f, accumulate: true);
                    TT.PackA(sb, dp, Tile, 1, n, cols);
                    TT.Product(p.DqPartials + p.PartialIndex(chunk, b, h, t0), d64, sb, kd, n, d64, cols, 1f, accumulate: true);
                    work += (long)(r1 - r0) * cols;
                }
            }
            StoreTransposed(p.DK + p.KIndex(b, j0, kvh), p.Ldk, dkt, cols, d, p.Scale);
            StoreTransposed(p.DV + p.KIndex(b, j0, kvh), p.Ldk, dvt, cols, d, 1f);
        }
        return work;
    }
}
