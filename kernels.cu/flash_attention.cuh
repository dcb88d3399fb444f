// The parts of kernels.cu/flash_attention.cu: its parameter struct, the masks as per-row and per-tile bounds, and the
// shared-memory tiles with their mma fragments. Included by flash_attention.cu only.
#pragma once
#include "common.cuh"

// One parameter struct for every kernel of the file (FlashAttentionParams.cs mirrors it); a kernel reads what it uses.
struct FlashAttentionParams {
    const uint16_t* q;
    const uint16_t* k;
    const uint16_t* v;
    float* o;
    float* lse;
    const float* dout;
    const float* dlse;        // null: no gradient of lse
    uint16_t* dout_bf16;      // backward scratch [B, T, Hq, D]
    float* delta;             // backward scratch [B, Hq, T]
    float* dq;
    float* dk;
    float* dv;
    const int32_t* starts;    // packed sequence starts into the B·row token stream; null when starts_count is 0
    int32_t starts_count;
    int32_t batch, queries, keys, heads, kv_heads;
    int32_t row;              // tokens in a whole row, the stream `starts` indexes and S2-Attn's groups divide
    int32_t group_size;       // S2-Attn G, 0 = off
    int32_t query_start, key_start;
    int32_t first_shifted;    // the first of the call's heads in S2-Attn's shifted half
    float scale;
    int32_t atomic_dq;        // backward: 1 = dq by atomicAdd from the dk/dv kernel, 0 = the dq kernel writes it
};
static_assert(sizeof(FlashAttentionParams) == 160, "FlashAttentionParams.cs mirrors this layout");

namespace fa {

constexpr int kThreads = 128;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// ---- masks ----

// lo(t) for batch row b in the head half `shifted`: a binary search in the packed starts, as flash-attn does in cu_seqlens.
__device__ __forceinline__ int mask_lo(const FlashAttentionParams& p, int b, bool shifted, int t)
{
    int position = p.query_start + t;
    long long row_start = (long long)b * p.row, token = row_start + position;
    int a = 0, z = p.starts_count;
    while (a < z) {
        int mid = (a + z) >> 1;
        if (p.starts[mid] <= token)
            a = mid + 1;
        else
            z = mid;
    }
    int sequence = a > 0 && p.starts[a - 1] >= row_start ? (int)(p.starts[a - 1] - row_start) : 0;
    int group = 0, g = p.group_size;
    if (g > 0)
        group = shifted ? max(0, (position + g / 2) / g * g - g / 2) : position / g * g;
    return max(0, max(sequence, group) - p.key_start);
}

__device__ __forceinline__ int mask_hi(const FlashAttentionParams& p, int t) { return min(p.query_start + t - p.key_start, p.keys - 1); }

// The key range [lo, hi] of one query row of a tile; empty past the last query, whose rows the tile only pads.
struct RowBounds {
    int lo, hi;
    __device__ __forceinline__ bool sees(int j) const { return lo <= j && j <= hi; }
};

__device__ __forceinline__ RowBounds row_bounds(const FlashAttentionParams& p, int b, bool shifted, int t)
{
    if (t >= p.queries)
        return {1, 0};
    return {mask_lo(p, b, shifted, t), mask_hi(p, t)};
}

// The key tiles a tile of Br queries [t0, t0 + Br) visits, [kt_begin, kt_end) of Bc keys: those holding keys of
// [lo(t0), hi(last query)]; and whether a key tile is seen whole by every query (then it skips the element mask).
struct QueryTile {
    int kt_begin, kt_end;
    int lo_last, hi_first;   // the largest lo and the smallest hi of the tile's queries
    bool complete;           // no padding rows past the last query

    __device__ __forceinline__ bool full(int j0, int cols) const { return complete && lo_last <= j0 && hi_first >= j0 + cols - 1; }
};

template <int Br, int Bc>
__device__ __forceinline__ QueryTile query_tile(const FlashAttentionParams& p, int b, bool shifted, int t0)
{
    const int t_last = min(t0 + Br, p.queries) - 1;
    const int lo_first = mask_lo(p, b, shifted, t0), hi_last = mask_hi(p, t_last);
    QueryTile tile;
    tile.kt_begin = lo_first / Bc;
    tile.kt_end = hi_last < lo_first ? tile.kt_begin : hi_last / Bc + 1;
    tile.lo_last = mask_lo(p, b, shifted, t_last);
    tile.hi_first = mask_hi(p, t0);
    tile.complete = t0 + Br <= p.queries;
    return tile;
}

// ---- shared-memory tiles ----

// Element offset of (row, col) in a [rows][D] bf16 tile whose 16-byte chunks are XOR-swizzled by row % 8.
template <int D>
__device__ __forceinline__ int swz(int row, int col)
{
    return row * D + ((((col >> 3) ^ row) & 7) | (col >> 3 & ~7)) * 8 + (col & 7);
}

// Rows [row0, row0 + ROWS) of a bf16 matrix whose rows are `stride` elements apart into a swizzled tile by cp.async;
// rows at or past `rows` are zero-filled.
template <int ROWS, int D>
__device__ __forceinline__ void load_tile(uint16_t* tile, const uint16_t* src, long long stride, int row0, int rows)
{
    constexpr int chunks = D / 8;
    for (int i = threadIdx.x; i < ROWS * chunks; i += kThreads) {
        int r = i / chunks, c = i % chunks;
        bool in = row0 + r < rows;
        const uint16_t* g = in ? src + (long long)(row0 + r) * stride + c * 8 : src;
        cp_async_16_zfill(tile + swz<D>(r, c * 8), g, in ? 16 : 0);
    }
}

// Lane l of a ldmatrix .x4 addresses row l % 8 of matrix l / 8.
__device__ __forceinline__ int ld_row() { return threadIdx.x & 7; }
__device__ __forceinline__ int ld_matrix() { return (threadIdx.x >> 3) & 3; }

// The A fragment of the 16×16 block at (row0, col0) of a swizzled row-major tile [m][k].
template <int D>
__device__ __forceinline__ void load_a(uint32_t a[4], const uint16_t* tile, int row0, int col0)
{
    int m = ld_matrix();
    ldmatrix_x4(a, tile + swz<D>(row0 + ld_row() + (m & 1) * 8, col0 + (m >> 1) * 8));
}

// B fragments of two n8 blocks from a swizzled tile stored [n][k] (rows n0..n0+15, k0..k0+15): b[0..1] for n0, b[2..3] for n0 + 8.
template <int D>
__device__ __forceinline__ void load_b_nk(uint32_t b[4], const uint16_t* tile, int n0, int k0)
{
    int m = ld_matrix();
    ldmatrix_x4(b, tile + swz<D>(n0 + ld_row() + (m >> 1) * 8, k0 + (m & 1) * 8));
}

// B fragments of two n8 blocks from a swizzled tile stored [k][n] (rows k0..k0+15, columns n0..n0+15), transposed.
template <int D>
__device__ __forceinline__ void load_b_kn(uint32_t b[4], const uint16_t* tile, int k0, int n0)
{
    int m = ld_matrix();
    ldmatrix_x4_trans(b, tile + swz<D>(k0 + ld_row() + (m & 1) * 8, n0 + (m >> 1) * 8));
}

// Two n8 accumulator blocks (16 rows × 16 columns) rounded to bf16 as the A fragment of the next product: the
// accumulator of m16n8 holds the same (row, column) pairs as A's half k8.
__device__ __forceinline__ void to_a(uint32_t a[4], const float c0[4], const float c1[4])
{
    a[0] = pack_bf16x2(c0[0], c0[1]);
    a[1] = pack_bf16x2(c0[2], c0[3]);
    a[2] = pack_bf16x2(c1[0], c1[1]);
    a[3] = pack_bf16x2(c1[2], c1[3]);
}

__device__ __forceinline__ void mma(float c[4], const uint32_t a[4], const uint32_t b[2]) { mma_m16n8k16_bf16(c, a, b, c); }

// acc[16 × N] += A·Bᵀ over D: A the 16 rows from a_row0 of a [m][D] tile, B the first N rows of a [n][D] tile.
template <int D, int N>
__device__ __forceinline__ void gemm_nk(float (&acc)[N / 8][4], const uint16_t* a_tile, int a_row0, const uint16_t* b_tile)
{
    for (int kk = 0; kk < D / 16; ++kk) {
        uint32_t a[4];
        load_a<D>(a, a_tile, a_row0, kk * 16);
        for (int n = 0; n < N / 16; ++n) {
            uint32_t b[4];
            load_b_nk<D>(b, b_tile, n * 16, kk * 16);
            mma(acc[2 * n], a, b);
            mma(acc[2 * n + 1], a, b + 2);
        }
    }
}

// acc[16 × D] += P[16 × K] · V with P in accumulator blocks p[K/8] (rounded to bf16 here) and V a tile stored [K][D].
template <int D, int K>
__device__ __forceinline__ void gemm_pv(float (&acc)[D / 8][4], float (&p)[K / 8][4], const uint16_t* v_tile)
{
    for (int kk = 0; kk < K / 16; ++kk) {
        uint32_t a[4];
        to_a(a, p[2 * kk], p[2 * kk + 1]);
        for (int n = 0; n < D / 16; ++n) {
            uint32_t b[4];
            load_b_kn<D>(b, v_tile, kk * 16, n * 16);
            mma(acc[2 * n], a, b);
            mma(acc[2 * n + 1], a, b + 2);
        }
    }
}

template <int N>
__device__ __forceinline__ void zero(float (&acc)[N][4])
{
    for (int n = 0; n < N; ++n)
        for (int e = 0; e < 4; ++e)
            acc[n][e] = 0.0f;
}

// Accumulator element e of block n of this lane: row (lane / 4) + 8·(e / 2), column 8n + 2·(lane % 4) + e % 2.
__device__ __forceinline__ int acc_row(int e) { return ((threadIdx.x & 31) >> 2) + (e >> 1) * 8; }
__device__ __forceinline__ int acc_col(int n, int e) { return n * 8 + (threadIdx.x & 3) * 2 + (e & 1); }

}  // namespace fa
