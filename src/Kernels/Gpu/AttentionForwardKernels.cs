using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// Flash attention's forward after FlashAttention-2: one group per (batch row, head, query tile) streams over the key
/// tiles its queries see, K and V through shared memory, with an online softmax in float32 — no [T × S] scores
/// anywhere but one [tile × tile] tile in shared memory. A query that sees no key gets o = 0 and lse = −∞.
/// At bf16 (<see cref="AttentionSizes.RoundBf16"/>) q, k, v and each tile's exp(s − running max) are rounded before
/// their products, S is scaled after its product, and the sum l adds the unrounded exps: AttentionBf16.cs's numerics.
/// </summary>
internal static class AttentionForwardKernels
{
    /// <summary>Tiles of [tile × D] in shared memory: Q, K, V and the output's running sum.</summary>
    public const int TileArrays = 4;

    /// <summary>o and lse of one query tile; launched with <see cref="AttentionTiles.SharedFloats"/> dynamic floats.</summary>
    [GpuKernel]
    public static void Forward(ArrayView<float> o, ArrayView<float> lse, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, AttentionSizes n, AttentionMaskDevice mask)
    {
        int tile = n.Tile, d = n.D, td = tile * d;
        int bh = Grid.IdxX / n.QueryTiles, t0 = Grid.IdxX % n.QueryTiles * tile;
        int b = bh / n.Hq, h = bh % n.Hq, kvh = n.KvHead(h), rows = Math.Min(tile, n.T - t0);
        var shared = SharedMemory.GetDynamic<float>();
        ArrayView<float> qs = AttentionTiles.Take(ref shared, td), ks = AttentionTiles.Take(ref shared, td), vs = AttentionTiles.Take(ref shared, td);
        ArrayView<float> os = AttentionTiles.Take(ref shared, td), ps = AttentionTiles.Take(ref shared, tile * tile);
        ArrayView<float> m = AttentionTiles.Take(ref shared, tile), l = AttentionTiles.Take(ref shared, tile), alpha = AttentionTiles.Take(ref shared, tile);
        ArrayView<int> lo = SharedMemory.Allocate<int>(AttentionTiles.MaxTile), hi = SharedMemory.Allocate<int>(AttentionTiles.MaxTile);

        AttentionTiles.Bounds(lo, hi, mask, b, h >= mask.FirstShifted, t0, rows, tile);
        AttentionTiles.Load(qs, q, n.QIndex(b, t0, h), n.Ldq, rows, tile, n, n.QScale);
        AttentionTiles.Zero(os, td);
        for (int r = Group.IdxX; r < tile; r += Group.DimX)
        {
            m[r] = float.NegativeInfinity;
            l[r] = 0f;
        }
        Group.Barrier();

        int end = AttentionTiles.KeysEnd(lo, hi, tile, out int start);
        for (int j0 = start; j0 < end; j0 += tile)
        {
            int cols = Math.Min(tile, end - j0);
            AttentionTiles.Load(ks, k, n.KIndex(b, j0, kvh), n.Ldk, cols, tile, n, 1f);
            AttentionTiles.Load(vs, v, n.KIndex(b, j0, kvh), n.Ldk, cols, tile, n, 1f);
            Group.Barrier();
            for (int x = Group.IdxX; x < tile * tile; x += Group.DimX)
            {
                int r = x / tile, j = x % tile;
                ps[x] = j < cols && AttentionTiles.Sees(lo, hi, r, j0 + j) ? n.ScoreScale * AttentionTiles.Dot(qs, r * d, ks, j * d, d) : float.NegativeInfinity;
            }
            Group.Barrier();
            for (int r = Group.IdxX; r < tile; r += Group.DimX)
                SoftmaxStep(ps.SubView(r * tile, tile), cols, n, ref m[r], ref l[r], out alpha[r]);
            Group.Barrier();
            for (int x = Group.IdxX; x < td; x += Group.DimX)
            {
                int r = x / d, c = x % d;
                float sum = os[x] * alpha[r];
                for (int j = 0; j < cols; j++)
                    sum += ps[r * tile + j] * vs[j * d + c];
                os[x] = sum;
            }
            Group.Barrier();
        }

        for (int r = Group.IdxX; r < rows; r += Group.DimX)
            lse[n.LseIndex(b, h, t0 + r)] = m[r] + GpuMath.Log(l[r]); // l = 0 (no key seen): −∞
        for (int x = Group.IdxX; x < rows * d; x += Group.DimX)
        {
            int r = x / d;
            o[n.QIndex(b, t0 + r, h) + x % d] = l[r] > 0f ? os[x] / l[r] : 0f;
        }
    }

    /// <summary>
    /// One key tile's step of a row's online softmax: the new max m, the scores replaced by exp(s − m) (as P·V's
    /// operands: bf16-rounded at bf16), the sum l rescaled by alpha = exp(m_old − m_new) and grown by the unrounded
    /// exps. A row that has seen only −∞ keeps m = −∞ and subtracts 0 instead, so there is no −∞ − −∞.
    /// </summary>
    private static void SoftmaxStep(ArrayView<float> scores, int cols, AttentionSizes n, ref float m, ref float l, out float alpha)
    {
        float max = m;
        for (int j = 0; j < cols; j++)
            max = Math.Max(max, scores[j]);
        float offset = max > float.NegativeInfinity ? max : 0f, sum = 0f;
        for (int j = 0; j < cols; j++)
        {
            float e = GpuMath.Exp(scores[j] - offset);
            scores[j] = n.Operand(e);
            sum += e;
        }
        alpha = GpuMath.Exp(m - offset);
        l = l * alpha + sum;
        m = max;
    }
}
