using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// Flash attention's backward after FlashAttention-2, in two passes that recompute P = exp(s − lse) from the forward's
/// lse, with D_i = rowsum(dO ∘ O) − dlse_i and dS = P ∘ (dP − D): <see cref="Dq"/> (one group per query tile: dq =
/// scale · dS·K) and <see cref="DkDv"/> (one group per key tile of a kv head: dv = Pᵀ·dO, dk = scale · dSᵀ·Q over every
/// query head sharing it). Each output element has one writer and a fixed order of sums: no atomics, the same bits
/// every run. At bf16 (<see cref="AttentionSizes.RoundBf16"/>) q, k, v, dO, P and dS are rounded before their
/// products, as AttentionBf16.cs; P, dS and D = dO·o come from float32 values, the scale stays on S, dq and dk.
/// </summary>
internal static class AttentionBackwardKernels
{
    /// <summary>Tiles of [tile × D] <see cref="Dq"/> keeps in shared memory: Q, dO, K, V, dq.</summary>
    public const int DqTileArrays = 5;

    /// <summary>Tiles of [tile × D] <see cref="DkDv"/> keeps in shared memory: K, V, dk, dv, Q, dO.</summary>
    public const int DkDvTileArrays = 6;

    /// <summary>dq of one (batch row, head, query tile); launched with <see cref="AttentionTiles.SharedFloats"/> dynamic floats.</summary>
    [GpuKernel]
    public static void Dq(ArrayView<float> dq, AttentionInputs x, AttentionSizes n, AttentionMaskDevice mask)
    {
        int tile = n.Tile, d = n.D, td = tile * d;
        int bh = Grid.IdxX / n.QueryTiles, t0 = Grid.IdxX % n.QueryTiles * tile;
        int b = bh / n.Hq, h = bh % n.Hq, kvh = n.KvHead(h), rows = Math.Min(tile, n.T - t0);
        var shared = SharedMemory.GetDynamic<float>();
        ArrayView<float> qs = AttentionTiles.Take(ref shared, td), dos = AttentionTiles.Take(ref shared, td), ks = AttentionTiles.Take(ref shared, td);
        ArrayView<float> vs = AttentionTiles.Take(ref shared, td), dqs = AttentionTiles.Take(ref shared, td), ds = AttentionTiles.Take(ref shared, tile * tile);
        ArrayView<float> lses = AttentionTiles.Take(ref shared, tile), delta = AttentionTiles.Take(ref shared, tile);
        ArrayView<int> lo = SharedMemory.Allocate<int>(AttentionTiles.MaxTile), hi = SharedMemory.Allocate<int>(AttentionTiles.MaxTile);

        AttentionTiles.Bounds(lo, hi, mask, b, h >= mask.FirstShifted, t0, rows, tile);
        AttentionTiles.Load(qs, x.Q, n.QIndex(b, t0, h), n.Ldq, rows, tile, n, 1f);
        AttentionTiles.Load(dos, x.DOut, n.QIndex(b, t0, h), n.Ldq, rows, tile, n, 1f);
        AttentionTiles.Zero(dqs, td);
        RowStats(lses, delta, x, n, b, h, t0, rows);
        Group.Barrier();

        int end = AttentionTiles.KeysEnd(lo, hi, tile, out int start);
        for (int j0 = start; j0 < end; j0 += tile)
        {
            int cols = Math.Min(tile, end - j0);
            AttentionTiles.Load(ks, x.K, n.KIndex(b, j0, kvh), n.Ldk, cols, tile, n, 1f);
            AttentionTiles.Load(vs, x.V, n.KIndex(b, j0, kvh), n.Ldk, cols, tile, n, 1f);
            Group.Barrier();
            for (int e = Group.IdxX; e < tile * tile; e += Group.DimX)
            {
                int r = e / tile, j = e % tile;
                ds[e] = j < cols && AttentionTiles.Sees(lo, hi, r, j0 + j) ? n.Operand(Ds(P(qs, ks, lses, r, j, n), dos, vs, delta, r, j, d)) : 0f;
            }
            Group.Barrier();
            for (int e = Group.IdxX; e < td; e += Group.DimX)
            {
                int r = e / d, c = e % d;
                float sum = dqs[e];
                for (int j = 0; j < cols; j++)
                    sum += ds[r * tile + j] * ks[j * d + c];
                dqs[e] = sum;
            }
            Group.Barrier();
        }
        for (int e = Group.IdxX; e < rows * d; e += Group.DimX)
            dq[n.QIndex(b, t0 + e / d, h) + e % d] = n.Scale * dqs[e];
    }

    /// <summary>dk and dv of one (batch row, kv head, key tile); launched with <see cref="AttentionTiles.SharedFloats"/> dynamic floats.</summary>
    [GpuKernel]
    public static void DkDv(ArrayView<float> dk, ArrayView<float> dv, AttentionInputs x, AttentionSizes n, AttentionMaskDevice mask)
    {
        int tile = n.Tile, d = n.D, td = tile * d;
        int bkv = Grid.IdxX / n.KeyTiles, j0 = Grid.IdxX % n.KeyTiles * tile;
        int b = bkv / n.Hkv, kvh = bkv % n.Hkv, cols = Math.Min(tile, n.S - j0), heads = n.Hq / n.Hkv;
        var shared = SharedMemory.GetDynamic<float>();
        ArrayView<float> ks = AttentionTiles.Take(ref shared, td), vs = AttentionTiles.Take(ref shared, td), dks = AttentionTiles.Take(ref shared, td);
        ArrayView<float> dvs = AttentionTiles.Take(ref shared, td), qs = AttentionTiles.Take(ref shared, td), dos = AttentionTiles.Take(ref shared, td);
        ArrayView<float> ps = AttentionTiles.Take(ref shared, tile * tile), ds = AttentionTiles.Take(ref shared, tile * tile);
        ArrayView<float> lses = AttentionTiles.Take(ref shared, tile), delta = AttentionTiles.Take(ref shared, tile);
        ArrayView<int> lo = SharedMemory.Allocate<int>(AttentionTiles.MaxTile), hi = SharedMemory.Allocate<int>(AttentionTiles.MaxTile);

        AttentionTiles.Load(ks, x.K, n.KIndex(b, j0, kvh), n.Ldk, cols, tile, n, 1f);
        AttentionTiles.Load(vs, x.V, n.KIndex(b, j0, kvh), n.Ldk, cols, tile, n, 1f);
        AttentionTiles.Zero(dks, td);
        AttentionTiles.Zero(dvs, td);
        // The queries that see some key of the tile: from the first whose position reaches it to the first whose lo passes it.
        int first = Math.Max(0, j0 - (mask.QueryStart - mask.KeyStart));
        for (int h = kvh * heads; h < (kvh + 1) * heads; h++)
        {
            bool shifted = h >= mask.FirstShifted;
            int past = mask.FirstQueryPast(b, shifted, j0 + cols - 1, first, n.T);
            for (int t0 = first; t0 < past; t0 += tile)
            {
                int rows = Math.Min(tile, n.T - t0);
                AttentionTiles.Bounds(lo, hi, mask, b, shifted, t0, rows, tile);
                AttentionTiles.Load(qs, x.Q, n.QIndex(b, t0, h), n.Ldq, rows, tile, n, 1f);
                AttentionTiles.Load(dos, x.DOut, n.QIndex(b, t0, h), n.Ldq, rows, tile, n, 1f);
                RowStats(lses, delta, x, n, b, h, t0, rows);
                Group.Barrier();
                for (int e = Group.IdxX; e < tile * tile; e += Group.DimX)
                {
                    int r = e / tile, j = e % tile;
                    bool seen = j < cols && AttentionTiles.Sees(lo, hi, r, j0 + j);
                    float p = seen ? P(qs, ks, lses, r, j, n) : 0f;
                    // dS from the unrounded P; each rounded only as it becomes an operand.
                    ps[e] = n.Operand(p);
                    ds[e] = seen ? n.Operand(Ds(p, dos, vs, delta, r, j, d)) : 0f;
                }
                Group.Barrier();
                for (int e = Group.IdxX; e < td; e += Group.DimX)
                {
                    int j = e / d, c = e % d;
                    float sv = dvs[e], sk = dks[e];
                    for (int r = 0; r < rows; r++)
                    {
                        sv += ps[r * tile + j] * dos[r * d + c];
                        sk += ds[r * tile + j] * qs[r * d + c];
                    }
                    dvs[e] = sv;
                    dks[e] = sk;
                }
                Group.Barrier();
            }
        }
        Group.Barrier();
        for (int e = Group.IdxX; e < cols * d; e += Group.DimX)
        {
            long at = n.KIndex(b, j0 + e / d, kvh) + e % d;
            dk[at] = n.Scale * dks[e];
            dv[at] = dvs[e];
        }
    }

    /// <summary>lse and D of the tile's valid rows into shared memory (padding rows keep what they held: they see no key, so nothing reads them).</summary>
    private static void RowStats(ArrayView<float> lses, ArrayView<float> delta, AttentionInputs x, AttentionSizes n, int b, int h, int t0, int rows)
    {
        for (int r = Group.IdxX; r < rows; r += Group.DimX)
        {
            lses[r] = x.Lse[n.LseIndex(b, h, t0 + r)];
            delta[r] = Delta(x, n, b, h, t0 + r);
        }
    }

    /// <summary>D_i = rowsum(dO ∘ O) − dlse_i of row (b, t, h), read from global memory (dlse empty = 0).</summary>
    private static float Delta(AttentionInputs x, AttentionSizes n, int b, int h, int t)
    {
        long row = n.QIndex(b, t, h);
        float sum = 0f;
        for (int c = 0; c < n.D; c++)
            sum += x.DOut[row + c] * x.O[row + c];
        return x.DLse.Length > 0 ? sum - x.DLse[n.LseIndex(b, h, t)] : sum;
    }

    /// <summary>P of tile row r and key j: exp(scale · q·k − lse), recomputed from the forward's lse.</summary>
    private static float P(ArrayView<float> qs, ArrayView<float> ks, ArrayView<float> lses, int r, int j, AttentionSizes n)
        => GpuMath.Exp(n.Scale * AttentionTiles.Dot(qs, r * n.D, ks, j * n.D, n.D) - lses[r]);

    /// <summary>dS of tile row r and key j from its P: P ∘ (dP − D), with dP = dO·v.</summary>
    private static float Ds(float p, ArrayView<float> dos, ArrayView<float> vs, ArrayView<float> delta, int r, int j, int d)
        => p * (AttentionTiles.Dot(dos, r * d, vs, j * d, d) - delta[r]);
}
