// FlashAttention-2-style causal attention on the tensor cores (mma.sync m16n8k16, bf16 in, float32 accumulate), with
// the masks of AttentionSpec as tile bounds: query t sees the keys [lo(t), hi(t)] of the call, hi(t) = QueryStart + t −
// KeyStart cut to S − 1, lo(t) = max(0, the start of t's packed sequence, the start of its S2-Attn group (shifted by G/2
// for heads from first_shifted on)) − KeyStart. lo and hi never decrease with t, so a tile of queries [t0, t1) sees the
// keys [lo(t0), hi(t1 − 1)]: key tiles outside it are never visited, and only tiles that cross a bound apply the mask
// element by element. GQA: query head h reads kv head h / (Hq / Hkv).
//
// q, k, v are bf16 (raw 16-bit words); o, lse, dout, dlse and the gradients float32. Layouts: q, o, dout, dq
// [B, T, Hq, D]; k, v, dk, dv [B, S, Hkv, D]; lse, dlse [B, Hq, T] (natural log-sum-exp of the scaled scores; −inf and
// o = 0 for a query that sees no key). Head dims 64 and 128, exported as <kernel>_d64 and <kernel>_d128. Every kernel
// runs 128 threads (4 warps); tiles sit in dynamic shared memory, rows of 16-byte chunks XOR-swizzled by row % 8 so that
// ldmatrix and cp.async touch all 32 banks once.
//
// Forward, flash_attention_forward: grid (⌈T/64⌉, Hq, B); a warp owns 16 query rows (online softmax in base 2), K and V
//   tiles of Bc = 64 (d64) or 32 (d128) keys double-buffered by cp.async; P is rounded to bf16 before P·V.
// Backward, after the forward's o and lse:
//   flash_attention_backward_prep: grid (⌈B·T·Hq/4⌉), a warp per (b, t, h): Δ = rowsum(dO∘O) − dlse into `delta`, dO as
//     bf16 into `dout_bf16`, and dq = 0 when atomic_dq (the fast path accumulates into it).
//   flash_attention_backward_dkdv: grid (⌈S/64⌉, Hkv, B); a warp owns 16 keys; loops over the query heads of its kv
//     head's group and their query tiles of 32 (double-buffered), so dk and dv are one block's registers, no atomics.
//     With atomic_dq it also adds dS·K into dq with float atomicAdd (fast, not deterministic).
//   flash_attention_backward_dq: grid (⌈T/64⌉, Hq, B), the deterministic dq: a warp owns 16 query rows and loops over
//     the key tiles (Bc = 64 / 32, double-buffered) as the forward does.
//
// Dynamic shared memory (bytes): forward 40960 (d64) / 49152 (d128); dkdv 38912 / 71680 (d128 past 48 KB: the
// launcher opts in); dq 49152 / 65536 (d128 opts in); prep none.
// budget: flash_attention_forward_d64 registers<=176 shared<=40960
// budget: flash_attention_forward_d128 registers<=176 shared<=49152
// budget: flash_attention_backward_prep_d64 registers<=32 shared<=0
// budget: flash_attention_backward_prep_d128 registers<=32 shared<=0
// budget: flash_attention_backward_dkdv_d64 registers<=176 shared<=38912
// budget: flash_attention_backward_dkdv_d128 registers<=255 shared<=71680
// budget: flash_attention_backward_dq_d64 registers<=176 shared<=49152
// budget: flash_attention_backward_dq_d128 registers<=176 shared<=65536
#include "flash_attention.cuh"

namespace fa {

// ---- forward ----

// The block of the forward and dq kernels: query tile blockIdx.x of query head blockIdx.y in batch row blockIdx.z, its
// S2-Attn half, where its rows of q, dO and o start (row·Hq·D apart) and the K/V rows of the kv head it reads.
template <int D>
struct QueryBlock {
    int qt, h, b;
    bool shifted;
    long long head, q_stride, kv_stride;
    const uint16_t* kg;
    const uint16_t* vg;

    __device__ __forceinline__ explicit QueryBlock(const FlashAttentionParams& p)
    {
        qt = blockIdx.x;
        h = blockIdx.y;
        b = blockIdx.z;
        shifted = h >= p.first_shifted;
        head = (long long)b * p.queries * p.heads + h;
        q_stride = (long long)p.heads * D;
        kv_stride = (long long)p.kv_heads * D;
        const long long kv_head = (long long)b * p.keys * p.kv_heads + h / (p.heads / p.kv_heads);
        kg = p.k + kv_head * D;
        vg = p.v + kv_head * D;
    }
};

// K and V of key tile kt into buffer buf of kv_s ([2 buffers][K, V][Bc × D]).
template <int Bc, int D>
__device__ __forceinline__ void load_kv(uint16_t* kv_s, const QueryBlock<D>& blk, int kt, int buf, int keys)
{
    load_tile<Bc, D>(kv_s + (2 * buf) * Bc * D, blk.kg, blk.kv_stride, kt * Bc, keys);
    load_tile<Bc, D>(kv_s + (2 * buf + 1) * Bc * D, blk.vg, blk.kv_stride, kt * Bc, keys);
}

// One step of the forward's and dq's key loop: start K/V tile kt + 1 into the other buffer, wait for tile kt, and
// return its K (its V follows).
template <int Bc, int D>
__device__ __forceinline__ const uint16_t* kv_step(uint16_t* kv_s, const QueryBlock<D>& blk, int kt, int kt_begin, int kt_end, int keys)
{
    const int buf = (kt - kt_begin) & 1;
    if (kt + 1 < kt_end)
        load_kv<Bc>(kv_s, blk, kt + 1, buf ^ 1, keys);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    return kv_s + (2 * buf) * Bc * D;
}

template <int D>
struct ForwardTiles {
    static constexpr int Br = 64, Bc = D == 64 ? 64 : 32;
};

template <int D>
__device__ __forceinline__ void forward(const FlashAttentionParams& p)
{
    constexpr int Br = ForwardTiles<D>::Br, Bc = ForwardTiles<D>::Bc, NC = Bc / 8, ND = D / 8, KD = D / 16;
    DYNAMIC_SHARED(uint16_t, smem);
    uint16_t* q_s = smem;
    uint16_t* kv_s = q_s + Br * D;   // [2 buffers][K, V][Bc × D]
    const QueryBlock<D> blk(p);
    const int h = blk.h, b = blk.b, warp = threadIdx.x >> 5, t0 = blk.qt * Br;
    const bool shifted = blk.shifted;
    const QueryTile tile = query_tile<Br, Bc>(p, b, shifted, t0);
    const int kt_begin = tile.kt_begin, kt_end = tile.kt_end;

    load_tile<Br, D>(q_s, p.q + blk.head * D, blk.q_stride, t0, p.queries);
    if (kt_begin < kt_end)
        load_kv<Bc>(kv_s, blk, kt_begin, 0, p.keys);
    cp_async_commit();

    const RowBounds rows[2] = {row_bounds(p, b, shifted, t0 + warp * 16 + acc_row(0)), row_bounds(p, b, shifted, t0 + warp * 16 + acc_row(2))};
    const float scale_log2 = p.scale * kLog2e;
    float o[ND][4], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    zero(o);
    uint32_t qf[KD][4];
    cp_async_wait<0>();
    __syncthreads();
    for (int kd = 0; kd < KD; ++kd)
        load_a<D>(qf[kd], q_s, warp * 16, kd * 16);

    for (int kt = kt_begin; kt < kt_end; ++kt) {
        const int j0 = kt * Bc;
        const uint16_t* k_s = kv_step<Bc>(kv_s, blk, kt, kt_begin, kt_end, p.keys);
        const uint16_t* v_s = k_s + Bc * D;

        float s[NC][4];
        zero(s);
        for (int kd = 0; kd < KD; ++kd)
            for (int n = 0; n < NC / 2; ++n) {
                uint32_t bk[4];
                load_b_nk<D>(bk, k_s, n * 16, kd * 16);
                mma(s[2 * n], qf[kd], bk);
                mma(s[2 * n + 1], qf[kd], bk + 2);
            }
        const bool full = tile.full(j0, Bc);
        for (int n = 0; n < NC; ++n)
            for (int e = 0; e < 4; ++e)
                s[n][e] = full || rows[e >> 1].sees(j0 + acc_col(n, e)) ? s[n][e] * scale_log2 : -INFINITY;

        // Online softmax per row; a row's 16·NC scores lie on the 4 lanes of a quad.
        for (int r = 0; r < 2; ++r) {
            float mx = m[r];
            for (int n = 0; n < NC; ++n)
                mx = max(mx, max(s[n][2 * r], s[n][2 * r + 1]));
            mx = max(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = max(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            // A row that has seen no key yet keeps max −inf: subtract 0 instead, so its p stay 0 and not NaN.
            const float base = mx == -INFINITY ? 0.0f : mx;
            const float correction = fast_exp2(m[r] - base);
            m[r] = mx;
            float sum = 0.0f;
            for (int n = 0; n < NC; ++n)
                for (int c = 2 * r; c < 2 * r + 2; ++c) {
                    s[n][c] = fast_exp2(s[n][c] - base);
                    sum += s[n][c];
                }
            l[r] = l[r] * correction + sum;
            for (int n = 0; n < ND; ++n) {
                o[n][2 * r] *= correction;
                o[n][2 * r + 1] *= correction;
            }
        }
        gemm_pv<D, Bc>(o, s, v_s);
        __syncthreads();
    }

    for (int r = 0; r < 2; ++r) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        const int t = t0 + warp * 16 + acc_row(2 * r);
        if (t >= p.queries)
            continue;
        const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
        float* og = p.o + (((long long)b * p.queries + t) * p.heads + h) * D;
        for (int n = 0; n < ND; ++n) {
            og[acc_col(n, 2 * r)] = o[n][2 * r] * inv;
            og[acc_col(n, 2 * r + 1)] = o[n][2 * r + 1] * inv;
        }
        if ((threadIdx.x & 3) == 0)
            p.lse[((long long)b * p.heads + h) * p.queries + t] = l[r] > 0.0f ? (m[r] + log2f(l[r])) * kLn2 : -INFINITY;
    }
}

// ---- backward ----

template <int D>
__device__ __forceinline__ void backward_prep(const FlashAttentionParams& p)
{
    const long long rows = (long long)p.batch * p.queries * p.heads;
    const long long r = (long long)blockIdx.x * (kThreads / 32) + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (r >= rows)
        return;   // warp-uniform, and the kernel has no barrier
    const long long at = r * D;
    float dot = 0.0f;
    for (int i = lane; i < D; i += 32) {
        const float g = p.dout[at + i];
        dot += g * p.o[at + i];
        p.dout_bf16[at + i] = float_to_bf16(g);
        if (p.atomic_dq)
            p.dq[at + i] = 0.0f;
    }
    for (int w = 16; w > 0; w >>= 1)
        dot += __shfl_xor_sync(0xffffffffu, dot, w);
    if (lane == 0) {
        const int h = (int)(r % p.heads), t = (int)(r / p.heads % p.queries), b = (int)(r / ((long long)p.heads * p.queries));
        const long long at_row = ((long long)b * p.heads + h) * p.queries + t;
        p.delta[at_row] = dot - (p.dlse ? p.dlse[at_row] : 0.0f);
    }
}

template <int D>
struct DkdvTiles {
    static constexpr int Br = 32, Bc = 64, DsStride = Br + 8;   // dS tile rows padded to keep ldmatrix conflict-free
};

// dk, dv of Bc keys of one kv head, summed over the query heads of its group; with atomic_dq also dq += dS·K·scale.
template <int D>
__device__ __forceinline__ void backward_dkdv(const FlashAttentionParams& p)
{
    constexpr int Br = DkdvTiles<D>::Br, Bc = DkdvTiles<D>::Bc, DsStride = DkdvTiles<D>::DsStride, NQ = Br / 8, ND = D / 8;
    DYNAMIC_SHARED(uint16_t, smem);
    uint16_t* k_s = smem;
    uint16_t* v_s = k_s + Bc * D;
    uint16_t* qdo_s = v_s + Bc * D;           // [2 buffers][Q, dO][Br × D]
    uint16_t* ds_s = qdo_s + 4 * Br * D;      // [Bc][DsStride], dS transposed: keys by query
    float* lse_s = reinterpret_cast<float*>(ds_s + Bc * DsStride);   // [2][Br], log2 units
    float* delta_s = lse_s + 2 * Br;                                 // [2][Br]
    int* lo_s = reinterpret_cast<int*>(delta_s + 2 * Br);            // [2][Br]
    int* hi_s = lo_s + 2 * Br;                                       // [2][Br]

    const int kt = blockIdx.x, hk = blockIdx.y, b = blockIdx.z, warp = threadIdx.x >> 5;
    const int group = p.heads / p.kv_heads, h_first = hk * group;
    const int j0 = kt * Bc, j_last = min(j0 + Bc, p.keys) - 1;
    const long long q_stride = (long long)p.heads * D, kv_stride = (long long)p.kv_heads * D;
    const float scale_log2 = p.scale * kLog2e;

    load_tile<Bc, D>(k_s, p.k + ((long long)b * p.keys * p.kv_heads + hk) * D, kv_stride, j0, p.keys);
    load_tile<Bc, D>(v_s, p.v + ((long long)b * p.keys * p.kv_heads + hk) * D, kv_stride, j0, p.keys);

    // The work: (head, query tile) over the group's heads, each head's query tiles [qt, qt_end) those whose queries
    // may see a key of this tile: from the first query whose hi reaches j0 to the last whose lo is not past j_last.
    struct Item {
        int h, qt, qt_end;
    };
    auto advance = [&](Item& it) -> bool {
        if (++it.qt < it.qt_end)
            return true;
        while (++it.h < h_first + group) {
            const bool shifted = it.h >= p.first_shifted;
            const int t_begin = max(0, j0 + p.key_start - p.query_start);
            int a = t_begin, z = p.queries;
            while (a < z) {
                int mid = (a + z) >> 1;
                if (mask_lo(p, b, shifted, mid) > j_last)
                    z = mid;
                else
                    a = mid + 1;
            }
            if (a > t_begin) {
                it.qt = t_begin / Br;
                it.qt_end = (a - 1) / Br + 1;
                return true;
            }
        }
        return false;
    };
    auto load_item = [&](const Item& it, int buf) {
        const int t0 = it.qt * Br;
        const long long head = (long long)b * p.queries * p.heads + it.h;
        load_tile<Br, D>(qdo_s + (2 * buf) * Br * D, p.q + head * D, q_stride, t0, p.queries);
        load_tile<Br, D>(qdo_s + (2 * buf + 1) * Br * D, p.dout_bf16 + head * D, q_stride, t0, p.queries);
        if (threadIdx.x < Br) {
            const int t = t0 + threadIdx.x;
            const bool in = t < p.queries;
            const long long at = ((long long)b * p.heads + it.h) * p.queries + t;
            const RowBounds rb = row_bounds(p, b, it.h >= p.first_shifted, t);
            lse_s[buf * Br + threadIdx.x] = in ? p.lse[at] * kLog2e : 0.0f;
            delta_s[buf * Br + threadIdx.x] = in ? p.delta[at] : 0.0f;
            lo_s[buf * Br + threadIdx.x] = rb.lo;
            hi_s[buf * Br + threadIdx.x] = rb.hi;
        }
    };

    float dk[ND][4], dv[ND][4];
    zero(dk);
    zero(dv);
    Item cur{h_first - 1, 0, 0};
    bool has = advance(cur);
    if (has)
        load_item(cur, 0);
    cp_async_commit();
    for (int buf = 0; has; buf ^= 1) {
        Item next = cur;
        const bool more = advance(next);
        if (more)
            load_item(next, buf ^ 1);
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();

        const int t0 = cur.qt * Br;
        const uint16_t* q_s = qdo_s + (2 * buf) * Br * D;
        const uint16_t* do_s = q_s + Br * D;
        const float* lse_b = lse_s + buf * Br;
        const float* delta_b = delta_s + buf * Br;
        const bool full = t0 + Br <= p.queries && lo_s[buf * Br + Br - 1] <= j0 && hi_s[buf * Br] >= j0 + Bc - 1;

        // Sᵀ = K_w·Qᵀ and dPᵀ = V_w·dOᵀ for the warp's 16 keys by Br queries; then Pᵀ and dSᵀ = Pᵀ∘(dPᵀ − Δ) in place.
        float st[NQ][4], dpt[NQ][4];
        zero(st);
        zero(dpt);
        gemm_nk<D, Br>(st, k_s, warp * 16, q_s);
        gemm_nk<D, Br>(dpt, v_s, warp * 16, do_s);
        for (int n = 0; n < NQ; ++n)
            for (int e = 0; e < 4; ++e) {
                const int c = acc_col(n, e), j = j0 + warp * 16 + acc_row(e);
                const bool seen = full || (lo_s[buf * Br + c] <= j && j <= hi_s[buf * Br + c]);
                const float pt = seen ? fast_exp2(st[n][e] * scale_log2 - lse_b[c]) : 0.0f;
                st[n][e] = pt;
                dpt[n][e] = pt * (dpt[n][e] - delta_b[c]);
            }
        gemm_pv<D, Br>(dv, st, do_s);
        gemm_pv<D, Br>(dk, dpt, q_s);

        if (p.atomic_dq) {
            // dSᵀ (bf16, as dk used it) through shared memory, then each warp adds a 16-row × D/CS-column part of dS·K.
            for (int n = 0; n < NQ; ++n)
                for (int r = 0; r < 2; ++r)
                    *reinterpret_cast<uint32_t*>(ds_s + (warp * 16 + acc_row(2 * r)) * DsStride + acc_col(n, 0)) =
                        pack_bf16x2(dpt[n][2 * r], dpt[n][2 * r + 1]);
            __syncthreads();
            constexpr int RG = Br / 16, CS = 4 / RG, DC = D / CS;
            const int row0 = (warp % RG) * 16, col0 = (warp / RG) * DC;
            float* dqg = p.dq + ((long long)b * p.queries * p.heads + cur.h) * D;
            for (int dn = 0; dn < DC / 16; ++dn) {
                float acc[2][4];
                zero(acc);
                for (int kk = 0; kk < Bc / 16; ++kk) {
                    // A = dS [query][key] from dSᵀ stored [key][query]: transposed, matrices (m, k) = (+0,+0) (+8,+0) (+0,+8) (+8,+8).
                    const int m = ld_matrix();
                    uint32_t a[4], bk[4];
                    ldmatrix_x4_trans(a, ds_s + (kk * 16 + ld_row() + (m >> 1) * 8) * DsStride + row0 + (m & 1) * 8);
                    load_b_kn<D>(bk, k_s, kk * 16, col0 + dn * 16);
                    mma(acc[0], a, bk);
                    mma(acc[1], a, bk + 2);
                }
                for (int nn = 0; nn < 2; ++nn)
                    for (int e = 0; e < 4; ++e) {
                        const int t = t0 + row0 + acc_row(e);
                        if (t < p.queries)
                            atomicAdd(dqg + (long long)t * q_stride + col0 + dn * 16 + acc_col(nn, e), acc[nn][e] * p.scale);
                    }
            }
        }
        __syncthreads();
        cur = next;
        has = more;
    }
    cp_async_wait<0>();   // a block that found no work still has its K/V copies in flight

    for (int r = 0; r < 2; ++r) {
        const int j = j0 + warp * 16 + acc_row(2 * r);
        if (j >= p.keys)
            continue;
        const long long at = (((long long)b * p.keys + j) * p.kv_heads + hk) * D;
        for (int n = 0; n < ND; ++n)
            for (int c = 2 * r; c < 2 * r + 2; ++c) {
                p.dk[at + acc_col(n, c)] = dk[n][c] * p.scale;
                p.dv[at + acc_col(n, c)] = dv[n][c];
            }
    }
}

template <int D>
struct DqTiles {
    static constexpr int Br = 64, Bc = D == 64 ? 64 : 32;
};

// The deterministic dq of one query tile: a pass over its key tiles as in the forward, with P from the saved lse.
template <int D>
__device__ __forceinline__ void backward_dq(const FlashAttentionParams& p)
{
    constexpr int Br = DqTiles<D>::Br, Bc = DqTiles<D>::Bc, NC = Bc / 8, ND = D / 8;
    DYNAMIC_SHARED(uint16_t, smem);
    uint16_t* q_s = smem;
    uint16_t* do_s = q_s + Br * D;
    uint16_t* kv_s = do_s + Br * D;   // [2 buffers][K, V][Bc × D]
    const QueryBlock<D> blk(p);
    const int b = blk.b, warp = threadIdx.x >> 5, t0 = blk.qt * Br;
    const long long head = blk.head;
    const QueryTile tile = query_tile<Br, Bc>(p, b, blk.shifted, t0);
    const int kt_begin = tile.kt_begin, kt_end = tile.kt_end;

    load_tile<Br, D>(q_s, p.q + head * D, blk.q_stride, t0, p.queries);
    load_tile<Br, D>(do_s, p.dout_bf16 + head * D, blk.q_stride, t0, p.queries);
    if (kt_begin < kt_end)
        load_kv<Bc>(kv_s, blk, kt_begin, 0, p.keys);
    cp_async_commit();

    RowBounds rows[2];
    float lse2[2], delta[2];
    for (int r = 0; r < 2; ++r) {
        const int t = t0 + warp * 16 + acc_row(2 * r);
        const bool in = t < p.queries;
        const long long at = ((long long)b * p.heads + blk.h) * p.queries + t;
        rows[r] = row_bounds(p, b, blk.shifted, t);
        lse2[r] = in ? p.lse[at] * kLog2e : 0.0f;
        delta[r] = in ? p.delta[at] : 0.0f;
    }
    const float scale_log2 = p.scale * kLog2e;
    float dq[ND][4];
    zero(dq);

    for (int kt = kt_begin; kt < kt_end; ++kt) {
        const int j0 = kt * Bc;
        const uint16_t* k_s = kv_step<Bc>(kv_s, blk, kt, kt_begin, kt_end, p.keys);
        const uint16_t* v_s = k_s + Bc * D;

        float s[NC][4], dp[NC][4];
        zero(s);
        zero(dp);
        gemm_nk<D, Bc>(s, q_s, warp * 16, k_s);
        gemm_nk<D, Bc>(dp, do_s, warp * 16, v_s);
        const bool full = tile.full(j0, Bc);
        for (int n = 0; n < NC; ++n)
            for (int e = 0; e < 4; ++e) {
                const int r = e >> 1;
                const float pij = full || rows[r].sees(j0 + acc_col(n, e)) ? fast_exp2(s[n][e] * scale_log2 - lse2[r]) : 0.0f;
                dp[n][e] = pij * (dp[n][e] - delta[r]);
            }
        gemm_pv<D, Bc>(dq, dp, k_s);
        __syncthreads();
    }
    cp_async_wait<0>();   // a tile with no keys still has its Q/dO copies in flight

    for (int r = 0; r < 2; ++r) {
        const int t = t0 + warp * 16 + acc_row(2 * r);
        if (t >= p.queries)
            continue;
        float* dqg = p.dq + (head + (long long)t * p.heads) * D;
        for (int n = 0; n < ND; ++n)
            for (int c = 2 * r; c < 2 * r + 2; ++c)
                dqg[acc_col(n, c)] = dq[n][c] * p.scale;
    }
}

}  // namespace fa

#define FLASH_ATTENTION_KERNEL(name, body, d)                                                         \
    extern "C" __global__ void __launch_bounds__(fa::kThreads) name##_d##d(FlashAttentionParams p) { \
        fa::body<d>(p);                                                                              \
    }                                                                                                \
    RAWLORA_HOST_ENTRY(name##_d##d, FlashAttentionParams)

FLASH_ATTENTION_KERNEL(flash_attention_forward, forward, 64)
FLASH_ATTENTION_KERNEL(flash_attention_forward, forward, 128)
FLASH_ATTENTION_KERNEL(flash_attention_backward_prep, backward_prep, 64)
FLASH_ATTENTION_KERNEL(flash_attention_backward_prep, backward_prep, 128)
FLASH_ATTENTION_KERNEL(flash_attention_backward_dkdv, backward_dkdv, 64)
FLASH_ATTENTION_KERNEL(flash_attention_backward_dkdv, backward_dkdv, 128)
FLASH_ATTENTION_KERNEL(flash_attention_backward_dq, backward_dq, 64)
FLASH_ATTENTION_KERNEL(flash_attention_backward_dq, backward_dq, 128)
