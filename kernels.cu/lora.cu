// The LoRA side path of a projection on tensor cores (issue 15). The frozen product x·Wᵀ (and dy·W in the backward) is
// cuBLAS's; these kernels add the rank-r path around it:
//   forward    y  (+)= s·xa·Bᵀ,  xa = x·Aᵀ          x [m×k], A [r×k], B [n×r] bf16; y [m×n] float32
//   backward   dxa   = s·dy·B                         dy [m×n] bf16
//              dx (+)= dxa·A                          dx [m×k] float32 (cuBLAS's dy·W)
//              dB (+)= s·dyᵀ·xa,  dA (+)= dxaᵀ·x      dB [n×r], dA [r×k] float32
// All of it is memory bound (r is 8..64), so each kernel streams its big operand (x, dy, y, dx) once in 64-wide tiles
// and keeps the rank-r part on chip: mma.sync m16n8k16 bf16 with float32 accumulators, ldmatrix from padded shared
// tiles, cp.async pipelines. xa and dxa are rounded to bf16 (they are mma operands, as in PEFT's bf16 autograd); the
// forward always writes xa ([m×r] bf16, r/k of x's bytes) except the fused one when p.xa is null (no backward to
// come), and the backward uses that same xa, so dB is the gradient of what the forward computed. (+)= adds to what is
// there when p.accumulate_out (y, dx) or p.accumulate_grads (dA, dB) is set, else overwrites.
//
// Two forms, for the GPU measurement to choose between; both round the same values and give the same bits:
//   fused       lora_fwd_rR: per 64 rows, xa = x·Aᵀ on chip, then y (+)= s·xa·Bᵀ over all n columns.
//               lora_bwd_rR: per 64 rows, dxa = s·dy·B on chip (stored for dA), then dx (+)= dxa·A over all k.
//   two-kernel  lora_xa_rR then lora_y_rR (y's epilogue), and lora_dxa_rR then lora_dx_rR.
// Then, in both, lora_wgrad_rR (split-m partial sums of dB and dA in p.partial) and lora_reduce (sums the splits in a
// fixed order into dB and dA: deterministic, no atomics).
//
// Launch shapes (128 threads = 4 warps of 16 rows each, unless said; R = 8, 16, 32, 64):
//   lora_fwd_rR, lora_bwd_rR, lora_xa_rR, lora_dxa_rR   grid (ceil(m/64))
//   lora_y_rR                                           grid (ceil(n/cols_per_block), ceil(m/64))
//   lora_dx_rR                                          grid (ceil(k/cols_per_block), ceil(m/64))
//   lora_wgrad_rR                                       grid (ceil(n/64) + ceil(k/64), splits)
//   lora_reduce                                         grid (ceil((n+k)·r/256)), 256 threads
// Requirements (checked by the launcher, src/Kernels/Cuda/LoraKernels.cs): n and k multiples of 8 (16-byte rows for
// cp.async), cols_per_block a multiple of 64, pointers 16-byte aligned, p.partial [splits × (n+k) × r] float32.
//
// Budgets (ptxas -v -arch=sm_90; registers rounded up to 8 above the larger of sm_80 and sm_90, static shared exact):
// budget: lora_fwd_r8 registers<=64 shared<=31104
// budget: lora_bwd_r8 registers<=64 shared<=30720
// budget: lora_xa_r8 registers<=56 shared<=31104
// budget: lora_y_r8 registers<=64 shared<=2048
// budget: lora_dxa_r8 registers<=56 shared<=30720
// budget: lora_dx_r8 registers<=64 shared<=2304
// budget: lora_wgrad_r8 registers<=56 shared<=30720
// budget: lora_fwd_r16 registers<=72 shared<=34560
// budget: lora_bwd_r16 registers<=72 shared<=36864
// budget: lora_xa_r16 registers<=56 shared<=34560
// budget: lora_y_r16 registers<=64 shared<=6144
// budget: lora_dxa_r16 registers<=64 shared<=36864
// budget: lora_dx_r16 registers<=56 shared<=4608
// budget: lora_wgrad_r16 registers<=64 shared<=36864
// budget: lora_fwd_r32 registers<=72 shared<=41472
// budget: lora_bwd_r32 registers<=80 shared<=43008
// budget: lora_xa_r32 registers<=72 shared<=41472
// budget: lora_y_r32 registers<=72 shared<=10240
// budget: lora_dxa_r32 registers<=72 shared<=43008
// budget: lora_dx_r32 registers<=72 shared<=9216
// budget: lora_wgrad_r32 registers<=72 shared<=43008
// budget: lora_fwd_r64 registers<=96 shared<=36864
// budget: lora_bwd_r64 registers<=96 shared<=36864
// budget: lora_xa_r64 registers<=88 shared<=36864
// budget: lora_y_r64 registers<=80 shared<=18432
// budget: lora_dxa_r64 registers<=96 shared<=36864
// budget: lora_dx_r64 registers<=72 shared<=18432
// budget: lora_wgrad_r64 registers<=112 shared<=36864
// budget: lora_reduce registers<=32 shared<=0
#include "common.cuh"

struct LoraParams {
    const uint16_t* x;    // [m×k] input
    const uint16_t* a;    // [r×k] LoRA A
    const uint16_t* b;    // [n×r] LoRA B
    const uint16_t* dy;   // [m×n] gradient of y
    uint16_t* xa;         // [m×r] x·Aᵀ: written by the forward, read by the backward
    uint16_t* dxa;        // [m×r] s·dy·B: backward scratch
    float* y;             // [m×n]
    float* dx;            // [m×k]
    float* da;            // [r×k]
    float* db;            // [n×r]
    float* partial;       // [splits × (n+k) × r]: dB's partial sums, then dA's (transposed, [k×r] per split)
    int m, n, k, r;
    int cols_per_block;   // lora_y / lora_dx: columns of y / dx per block
    int splits;           // lora_wgrad: blocks along m, each summing a contiguous run of 64-row tiles
    float scale;          // s
    int accumulate_out;   // y and dx
    int accumulate_grads; // dA and dB
};

namespace lora {

constexpr int kThreads = 128;
constexpr int kTile = 64;              // rows per block, and the width of a streamed tile
constexpr int kStride = kTile + 8;     // bf16 per row of a 64-wide tile: 144 bytes put ldmatrix's 8 rows in distinct banks

// Row stride of a [rows × R] tile: 16-byte rows (R = 8) are conflict-free as they are, wider ones get 16 bytes more.
template <int R> __host__ __device__ constexpr int rank_stride() { return R == 8 ? 8 : R + 8; }
// cp.async stages in flight: three while they fit in 48 KB of static shared memory.
template <int R> __host__ __device__ constexpr int stages() { return R <= 32 ? 3 : 2; }
// Elements of a tile of the rank-r matrix: [R × 64] when stored r-major (A), [64 × R] when stored column-major (B).
template <int R, bool RMajor> __host__ __device__ constexpr int rank_tile_elems() { return RMajor ? R * kStride : kTile * rank_stride<R>(); }

struct alignas(8) Float2 { float x, y; };

// Copies rows [row0, row0+ROWS) × columns [col0, col0+64) of a row-major [rows × cols] bf16 matrix into a tile with
// row stride kStride, zero-filling what lies outside it (cols is a multiple of 8, so a 16-byte chunk is all in or out).
template <int ROWS>
__device__ __forceinline__ void load_tile(uint16_t* tile, const uint16_t* src, int rows, int cols, int row0, int col0)
{
    for (int c = threadIdx.x; c < ROWS * 8; c += kThreads)
    {
        const int r = c >> 3, col = col0 + (c & 7) * 8;
        const bool in = row0 + r < rows && col < cols;
        cp_async_16_zfill(tile + r * kStride + (c & 7) * 8, in ? src + (size_t)(row0 + r) * cols + col : src, in ? 16 : 0);
    }
}

// Copies rows [row0, row0+64) of a row-major [rows × R] bf16 matrix into a tile with row stride rank_stride<R>,
// zero-filling the rows past the last.
template <int R>
__device__ __forceinline__ void load_rank_rows(uint16_t* tile, const uint16_t* src, int rows, int row0)
{
    constexpr int chunks = R / 8;
    for (int c = threadIdx.x; c < kTile * chunks; c += kThreads)
    {
        const int r = c / chunks, col = (c % chunks) * 8;
        const bool in = row0 + r < rows;
        cp_async_16_zfill(tile + r * rank_stride<R>() + col, in ? src + (size_t)(row0 + r) * R + col : src, in ? 16 : 0);
    }
}

// Columns [col0, col0+64) of the rank-r matrix into a tile: A-like ([R × cols]) or B-like ([cols × R]).
template <int R, bool RMajor>
__device__ __forceinline__ void load_rank_tile(uint16_t* tile, const uint16_t* src, int cols, int col0)
{
    if (RMajor)
        load_tile<R>(tile, src, R, cols, 0, col0);
    else
        load_rank_rows<R>(tile, src, cols, col0);
}

// The B operand (16×8, k×n) of an mma from a tile whose rows are n, each holding k contiguously: ldmatrix as stored.
// HALF: only k 0..7 exist (r = 8); the upper half of the fragment is zero.
template <bool HALF>
__device__ __forceinline__ void b_from_n_rows(uint32_t b[2], const uint16_t* tile, int stride, int n0, int k0)
{
    const int lane = threadIdx.x & 31;
    const uint16_t* row = tile + (n0 + (lane & 7)) * stride + k0 + (HALF ? 0 : (lane >> 3 & 1) * 8);
    if (HALF)
    {
        ldmatrix_x1(b, row);
        b[1] = 0;
    }
    else
        ldmatrix_x2(b, row);
}

// The B operand from a tile whose rows are k, each holding n contiguously: ldmatrix .trans.
template <bool HALF>
__device__ __forceinline__ void b_from_k_rows(uint32_t b[2], const uint16_t* tile, int stride, int k0, int n0)
{
    const int lane = threadIdx.x & 31;
    const uint16_t* row = tile + (k0 + (lane & (HALF ? 7 : 15))) * stride + n0;
    if (HALF)
    {
        ldmatrix_x1_trans(b, row);
        b[1] = 0;
    }
    else
        ldmatrix_x2_trans(b, row);
}

template <int R>
__device__ __forceinline__ void zero(float (&acc)[R / 8][4])
{
#pragma unroll
    for (int j = 0; j < R / 8; ++j)
#pragma unroll
        for (int i = 0; i < 4; ++i)
            acc[j][i] = 0.f;
}

// Runs compute(stage, t) for t in [t0, t1) with load(stage, t) issued S-1 tiles ahead through cp.async; stage i of
// the ring is stage_elems elements at smem + i·stage_elems. Ends with every copy landed and the block synchronized, so
// that the caller may reuse smem.
template <int S, class Load, class Compute>
__device__ __forceinline__ void pipelined(uint16_t* smem, int stage_elems, int t0, int t1, Load load, Compute compute)
{
    for (int i = 0; i < S - 1; ++i)
    {
        if (t0 + i < t1)
            load(smem + i * stage_elems, t0 + i);
        cp_async_commit();
    }
    for (int t = t0; t < t1; ++t)
    {
        cp_async_wait<S - 2>();
        __syncthreads();  // tile t has landed for every thread, and all are done with the stage loaded next
        if (t + S - 1 < t1)
            load(smem + (t + S - 1 - t0) % S * stage_elems, t + S - 1);
        cp_async_commit();
        compute(smem + (t - t0) % S * stage_elems, t);
    }
    cp_async_wait<0>();
    __syncthreads();
}

// This warp's 16 rows of big·(the rank-r matrix)ᵀ-or-as-is over all C columns: acc[j/8] holds the 16×8 block of
// columns j (accumulator fragment layout). big is [M × C]; the rank-r matrix is A-like [R × C] (RMajor: xa = x·Aᵀ) or
// B-like [C × R] (dxa = dy·B). Rows past M come out zero.
template <int R, bool RMajor>
__device__ __forceinline__ void project(float (&acc)[R / 8][4], uint16_t* smem, const uint16_t* big, const uint16_t* rank,
                                        int M, int C, int m0)
{
    constexpr int big_elems = kTile * kStride;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    zero<R>(acc);
    pipelined<stages<R>()>(
        smem, big_elems + rank_tile_elems<R, RMajor>(), 0, (C + kTile - 1) / kTile,
        [&](uint16_t* stage, int t) {
            load_tile<kTile>(stage, big, M, C, m0, t * kTile);
            load_rank_tile<R, RMajor>(stage + big_elems, rank, C, t * kTile);
        },
        [&](const uint16_t* stage, int) {
            const uint16_t* rs = stage + big_elems;
#pragma unroll
            for (int ks = 0; ks < kTile / 16; ++ks)
            {
                uint32_t a[4];
                ldmatrix_x4(a, stage + (warp * 16 + (lane & 15)) * kStride + ks * 16 + (lane >> 4) * 8);
#pragma unroll
                for (int j = 0; j < R / 8; ++j)
                {
                    uint32_t b[2];
                    if (RMajor)
                        b_from_n_rows<false>(b, rs, kStride, j * 8, ks * 16);
                    else
                        b_from_k_rows<false>(b, rs, rank_stride<R>(), ks * 16, j * 8);
                    mma_m16n8k16_bf16(acc[j], a, b, acc[j]);
                }
            }
        });
}

// The A operands (16 × R, one per 16 of R) of this warp's rows of a rank-r activation (xa, dxa), bf16.
template <int R>
struct RankFragments {
    uint32_t a[(R + 15) / 16][4];
};

// From the accumulators of project(), times scale, rounded to bf16: an accumulator's two 16×8 blocks j = 2s, 2s+1
// are the A fragment's k halves, element for element.
template <int R>
__device__ __forceinline__ RankFragments<R> fragments_from(const float (&acc)[R / 8][4], float scale)
{
    RankFragments<R> f;
#pragma unroll
    for (int s = 0; s < (R + 15) / 16; ++s)
    {
        f.a[s][0] = pack_bf16x2(acc[2 * s][0] * scale, acc[2 * s][1] * scale);
        f.a[s][1] = pack_bf16x2(acc[2 * s][2] * scale, acc[2 * s][3] * scale);
        f.a[s][2] = 2 * s + 1 < R / 8 ? pack_bf16x2(acc[2 * s + 1][0] * scale, acc[2 * s + 1][1] * scale) : 0u;
        f.a[s][3] = 2 * s + 1 < R / 8 ? pack_bf16x2(acc[2 * s + 1][2] * scale, acc[2 * s + 1][3] * scale) : 0u;
    }
    return f;
}

// The same fragments read back from a stored [M × R] activation (zero past row M).
template <int R>
__device__ __forceinline__ RankFragments<R> fragments_load(const uint16_t* low, int M, int m0)
{
    const int lane = threadIdx.x & 31, row = m0 + (threadIdx.x >> 5) * 16 + (lane >> 2), col = (lane & 3) * 2;
    RankFragments<R> f;
#pragma unroll
    for (int s = 0; s < (R + 15) / 16; ++s)
#pragma unroll
        for (int i = 0; i < 4; ++i)
        {
            const int r = row + (i & 1) * 8, c = s * 16 + (i >> 1) * 8 + col;
            f.a[s][i] = r < M && c < R ? *reinterpret_cast<const uint32_t*>(low + (size_t)r * R + c) : 0u;
        }
    return f;
}

// Stores this warp's rows of acc·scale, rounded to bf16, into low [M × R].
template <int R>
__device__ __forceinline__ void store_rank(uint16_t* low, const float (&acc)[R / 8][4], float scale, int M, int m0)
{
    const int lane = threadIdx.x & 31, row = m0 + (threadIdx.x >> 5) * 16 + (lane >> 2), col = (lane & 3) * 2;
#pragma unroll
    for (int j = 0; j < R / 8; ++j)
#pragma unroll
        for (int h = 0; h < 2; ++h)
            if (row + h * 8 < M)
                *reinterpret_cast<uint32_t*>(low + (size_t)(row + h * 8) * R + j * 8 + col) =
                    pack_bf16x2(acc[j][2 * h] * scale, acc[j][2 * h + 1] * scale);
}

// out[rows m0.., columns c_begin..c_end) (+)= scale · low·(the rank-r matrix): with f this warp's 16 rows of low, and the
// rank-r matrix B-like [C × R] (y += s·xa·Bᵀ) or A-like [R × C] (RMajor: dx += dxa·A), streamed in 64-column tiles.
// out is [M × C] float32; c_begin is a multiple of 64, c_end of 8.
template <int R, bool RMajor>
__device__ __forceinline__ void apply(const RankFragments<R>& f, uint16_t* smem, const uint16_t* rank, float* out, int M, int C,
                                      int m0, int c_begin, int c_end, float scale, bool accumulate)
{
    const int lane = threadIdx.x & 31, row = m0 + (threadIdx.x >> 5) * 16 + (lane >> 2), col = (lane & 3) * 2;
    pipelined<2>(
        smem, rank_tile_elems<R, RMajor>(), c_begin / kTile, (c_end + kTile - 1) / kTile,
        [&](uint16_t* stage, int t) { load_rank_tile<R, RMajor>(stage, rank, C, t * kTile); },
        [&](const uint16_t* rs, int t) {
            // All of the tile's loads first, so that they are in flight together.
            Float2 v[kTile / 8][2];
#pragma unroll
            for (int nt = 0; nt < kTile / 8; ++nt)
#pragma unroll
                for (int h = 0; h < 2; ++h)
                {
                    const int c = t * kTile + nt * 8;
                    v[nt][h] = accumulate && c < c_end && row + h * 8 < M
                                   ? *reinterpret_cast<const Float2*>(out + (size_t)(row + h * 8) * C + c + col)
                                   : Float2{0.f, 0.f};
                }
#pragma unroll
            for (int nt = 0; nt < kTile / 8; ++nt)
            {
                const int c = t * kTile + nt * 8;
                if (c >= c_end)
                    break;
                float d[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
                for (int s = 0; s < (R + 15) / 16; ++s)
                {
                    uint32_t b[2];
                    if (RMajor)
                        b_from_k_rows<R == 8>(b, rs, kStride, s * 16, nt * 8);
                    else
                        b_from_n_rows<R == 8>(b, rs, rank_stride<R>(), nt * 8, s * 16);
                    mma_m16n8k16_bf16(d, f.a[s], b, d);
                }
#pragma unroll
                for (int h = 0; h < 2; ++h)
                    if (row + h * 8 < M)
                        *reinterpret_cast<Float2*>(out + (size_t)(row + h * 8) * C + c + col) =
                            Float2{v[nt][h].x + scale * d[2 * h], v[nt][h].y + scale * d[2 * h + 1]};
            }
        });
}

// Shared memory (bf16 elements) of project() and apply() with the rank-r matrix A-like (RMajor) or B-like.
template <int R, bool RMajor> __host__ __device__ constexpr int project_smem() { return stages<R>() * (kTile * kStride + rank_tile_elems<R, RMajor>()); }
template <int R, bool RMajor> __host__ __device__ constexpr int apply_smem() { return 2 * rank_tile_elems<R, RMajor>(); }
template <int R, bool ProjectRMajor>
__host__ __device__ constexpr int fused_smem()
{
    return project_smem<R, ProjectRMajor>() > apply_smem<R, !ProjectRMajor>() ? project_smem<R, ProjectRMajor>() : apply_smem<R, !ProjectRMajor>();
}

template <int R>
__device__ __forceinline__ void fwd_fused(const LoraParams& p)
{
    __shared__ __align__(16) uint16_t smem[fused_smem<R, true>()];
    const int m0 = blockIdx.x * kTile;
    float acc[R / 8][4];
    project<R, true>(acc, smem, p.x, p.a, p.m, p.k, m0);
    if (p.xa != nullptr)
        store_rank<R>(p.xa, acc, 1.f, p.m, m0);
    apply<R, false>(fragments_from<R>(acc, 1.f), smem, p.b, p.y, p.m, p.n, m0, 0, p.n, p.scale, p.accumulate_out);
}

template <int R>
__device__ __forceinline__ void bwd_fused(const LoraParams& p)
{
    __shared__ __align__(16) uint16_t smem[fused_smem<R, false>()];
    const int m0 = blockIdx.x * kTile;
    float acc[R / 8][4];
    project<R, false>(acc, smem, p.dy, p.b, p.m, p.n, m0);
    store_rank<R>(p.dxa, acc, p.scale, p.m, m0);
    apply<R, true>(fragments_from<R>(acc, p.scale), smem, p.a, p.dx, p.m, p.k, m0, 0, p.k, 1.f, p.accumulate_out);
}

template <int R>
__device__ __forceinline__ void xa_only(const LoraParams& p)
{
    __shared__ __align__(16) uint16_t smem[project_smem<R, true>()];
    float acc[R / 8][4];
    project<R, true>(acc, smem, p.x, p.a, p.m, p.k, blockIdx.x * kTile);
    store_rank<R>(p.xa, acc, 1.f, p.m, blockIdx.x * kTile);
}

template <int R>
__device__ __forceinline__ void dxa_only(const LoraParams& p)
{
    __shared__ __align__(16) uint16_t smem[project_smem<R, false>()];
    float acc[R / 8][4];
    project<R, false>(acc, smem, p.dy, p.b, p.m, p.n, blockIdx.x * kTile);
    store_rank<R>(p.dxa, acc, p.scale, p.m, blockIdx.x * kTile);
}

template <int R>
__device__ __forceinline__ void y_only(const LoraParams& p)
{
    __shared__ __align__(16) uint16_t smem[apply_smem<R, false>()];
    const int m0 = blockIdx.y * kTile, c0 = blockIdx.x * p.cols_per_block;
    apply<R, false>(fragments_load<R>(p.xa, p.m, m0), smem, p.b, p.y, p.m, p.n, m0, c0, min(p.n, c0 + p.cols_per_block), p.scale,
                    p.accumulate_out);
}

template <int R>
__device__ __forceinline__ void dx_only(const LoraParams& p)
{
    __shared__ __align__(16) uint16_t smem[apply_smem<R, true>()];
    const int m0 = blockIdx.y * kTile, c0 = blockIdx.x * p.cols_per_block;
    apply<R, true>(fragments_load<R>(p.dxa, p.m, m0), smem, p.a, p.dx, p.m, p.k, m0, c0, min(p.k, c0 + p.cols_per_block), 1.f,
                   p.accumulate_out);
}

// Block (x, y): 64 columns of dB (x < ceil(n/64); big = dy, low = xa) or of dAᵀ (big = x, low = dxa), summed over split
// y's run of 64-row tiles: partial[y][c][j] = Σ_m big[m][c]·low[m][j]. Warp w holds columns c0+16w.. as the mma's rows.
template <int R>
__device__ __forceinline__ void wgrad(const LoraParams& p)
{
    constexpr int big_elems = kTile * kStride;
    __shared__ __align__(16) uint16_t smem[stages<R>() * (big_elems + kTile * rank_stride<R>())];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int tiles_n = (p.n + kTile - 1) / kTile;
    const bool da = (int)blockIdx.x >= tiles_n;
    const uint16_t* big = da ? p.x : p.dy;
    const uint16_t* low = da ? p.dxa : p.xa;
    const int C = da ? p.k : p.n, c0 = (da ? blockIdx.x - tiles_n : blockIdx.x) * kTile;
    const int tiles_m = (p.m + kTile - 1) / kTile, run = (tiles_m + p.splits - 1) / p.splits;
    const int t0 = min(tiles_m, (int)blockIdx.y * run), t1 = min(tiles_m, t0 + run);
    float acc[R / 8][4];
    zero<R>(acc);
    pipelined<stages<R>()>(
        smem, big_elems + kTile * rank_stride<R>(), t0, t1,
        [&](uint16_t* stage, int t) {
            load_tile<kTile>(stage, big, p.m, C, t * kTile, c0);
            load_rank_rows<R>(stage + big_elems, low, p.m, t * kTile);
        },
        [&](const uint16_t* stage, int) {
            const uint16_t* ls = stage + big_elems;
#pragma unroll
            for (int ks = 0; ks < kTile / 16; ++ks)
            {
                // bigᵀ as the row-major A operand: the four 8×8 quadrants, each transposed from 8 rows of m.
                uint32_t a[4];
                ldmatrix_x4_trans(a, stage + (ks * 16 + (lane & 7) + (lane >> 4) * 8) * kStride + warp * 16 + (lane >> 3 & 1) * 8);
#pragma unroll
                for (int j = 0; j < R / 8; ++j)
                {
                    uint32_t b[2];
                    b_from_k_rows<false>(b, ls, rank_stride<R>(), ks * 16, j * 8);
                    mma_m16n8k16_bf16(acc[j], a, b, acc[j]);
                }
            }
        });
    float* part = p.partial + (da ? (size_t)p.splits * p.n * R : 0) + (size_t)blockIdx.y * C * R;
    const int c = c0 + warp * 16 + (lane >> 2), col = (lane & 3) * 2;
#pragma unroll
    for (int j = 0; j < R / 8; ++j)
#pragma unroll
        for (int h = 0; h < 2; ++h)
            if (c + h * 8 < C)
                *reinterpret_cast<Float2*>(part + (size_t)(c + h * 8) * R + j * 8 + col) = Float2{acc[j][2 * h], acc[j][2 * h + 1]};
}

}  // namespace lora

// dB[c][j] (+)= s·Σ_split partial, dA[j][c] (+)= Σ_split partial, one element per thread, splits summed in order.
extern "C" __global__ void __launch_bounds__(256) lora_reduce(LoraParams p)
{
    const size_t e = (size_t)blockIdx.x * 256 + threadIdx.x, db_elems = (size_t)p.n * p.r;
    if (e >= (size_t)(p.n + p.k) * p.r)
        return;
    const bool da = e >= db_elems;
    const size_t i = da ? e - db_elems : e, per_split = da ? (size_t)p.k * p.r : db_elems;
    const float* part = p.partial + (da ? p.splits * db_elems : 0) + i;
    float sum = 0.f;
    for (int s = 0; s < p.splits; ++s)
        sum += part[s * per_split];
    float* out = da ? p.da + (i % p.r) * p.k + i / p.r : p.db + i;
    const bool accumulate = p.accumulate_grads != 0;
    *out = (accumulate ? *out : 0.f) + (da ? sum : p.scale * sum);
}
RAWLORA_HOST_ENTRY(lora_reduce, LoraParams)

#define LORA_KERNEL(name, R, body)                                                                                        \
    extern "C" __global__ void __launch_bounds__(lora::kThreads) name##_r##R(LoraParams p) { lora::body<R>(p); }       \
    RAWLORA_HOST_ENTRY(name##_r##R, LoraParams)

#define LORA_RANK(R)                     \
    LORA_KERNEL(lora_fwd, R, fwd_fused)  \
    LORA_KERNEL(lora_bwd, R, bwd_fused)  \
    LORA_KERNEL(lora_xa, R, xa_only)     \
    LORA_KERNEL(lora_y, R, y_only)       \
    LORA_KERNEL(lora_dxa, R, dxa_only)   \
    LORA_KERNEL(lora_dx, R, dx_only)     \
    LORA_KERNEL(lora_wgrad, R, wgrad)

LORA_RANK(8)
LORA_RANK(16)
LORA_RANK(32)
LORA_RANK(64)
