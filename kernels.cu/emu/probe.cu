// Small kernels that expose each primitive of common.cuh lane by lane, for the tests of the host emulation against the
// PTX ISA's layouts (tests/Kernels/Emu). They also compile for the device, so the same probes can run on a GPU.
// One warp unless said otherwise; bf16 as raw uint16_t.
#include "../common.cuh"

// mma from fragments given per lane, one tile set per block: a[block][32][4], b[block][32][2], c[block][32][4] in,
// d[block][32][4] out.
struct ProbeMma {
    const uint32_t* a;
    const uint32_t* b;
    const float* c;
    float* d;
};

extern "C" __global__ void probe_mma(ProbeMma p)
{
    unsigned lane = threadIdx.x + 32 * blockIdx.x;
    uint32_t a[4], b[2];
    float c[4], d[4];
    for (int i = 0; i < 4; ++i)
    {
        a[i] = p.a[4 * lane + i];
        c[i] = p.c[4 * lane + i];
    }
    for (int i = 0; i < 2; ++i)
        b[i] = p.b[2 * lane + i];
    mma_m16n8k16_bf16(d, a, b, c);
    for (int i = 0; i < 4; ++i)
        p.d[4 * lane + i] = d[i];
}
RAWLORA_HOST_ENTRY(probe_mma, ProbeMma)

// ldmatrix of a tile of `rows` rows of 8 bf16 at a row stride of `stride` elements, copied to shared memory; lane l
// addresses tile row row_of_lane[l]. out[32][4] gets each lane's registers (unused ones left as they are).
struct ProbeLdmatrix {
    const uint16_t* tile;
    const int* row_of_lane;
    uint32_t* out;
    int rows;
    int stride;
    int matrices;  // 1, 2 or 4
    int trans;
};

extern "C" __global__ void probe_ldmatrix(ProbeLdmatrix p)
{
    __shared__ __align__(16) uint16_t tile[32 * 24];
    unsigned lane = threadIdx.x;
    for (int i = lane; i < p.rows * p.stride; i += 32)
        tile[i] = p.tile[i];
    __syncwarp();
    const uint16_t* row = tile + p.row_of_lane[lane] * p.stride;
    uint32_t r[4];
    if (p.matrices == 1)
        p.trans ? ldmatrix_x1_trans(r, row) : ldmatrix_x1(r, row);
    else if (p.matrices == 2)
        p.trans ? ldmatrix_x2_trans(r, row) : ldmatrix_x2(r, row);
    else
        p.trans ? ldmatrix_x4_trans(r, row) : ldmatrix_x4(r, row);
    for (int i = 0; i < p.matrices; ++i)
        p.out[4 * lane + i] = r[i];
}
RAWLORA_HOST_ENTRY(probe_ldmatrix, ProbeLdmatrix)

// D = A·B + C the way a kernel does it: A (16×16, row-major) and B (16×8, row k holds B[k][0..7]) staged in shared
// memory by cp.async, A's fragments by ldmatrix.x4, B's by ldmatrix.x2.trans; D (16×8, row-major) stored from the
// accumulator fragments.
struct ProbeTileProduct {
    const uint16_t* a;
    const uint16_t* b;
    const float* c;
    float* d;
};

extern "C" __global__ void probe_tile_product(ProbeTileProduct p)
{
    __shared__ __align__(16) uint16_t sa[16 * 16];
    __shared__ __align__(16) uint16_t sb[16 * 8];
    unsigned lane = threadIdx.x;
    cp_async_16(sa + 8 * lane, p.a + 8 * lane);
    if (lane < 16)
        cp_async_16(sb + 8 * lane, p.b + 8 * lane);
    cp_async_commit();
    cp_async_wait<0>();
    __syncwarp();
    // Lane l addresses row l%8 of 8×8 matrix l/8: matrices 0..3 are A's quadrants top-left, bottom-left, top-right,
    // bottom-right (fragments a0..a3 in order); B's two matrices are its rows 0..7 and 8..15.
    uint32_t a[4], b[2];
    unsigned m = lane / 8, r = lane % 8;
    ldmatrix_x4(a, sa + (r + 8 * (m % 2)) * 16 + 8 * (m / 2));
    ldmatrix_x2_trans(b, sb + (lane % 16) * 8);
    unsigned g = lane / 4, t = lane % 4;
    float c[4], d[4];
    for (int i = 0; i < 4; ++i)
        c[i] = p.c[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2];
    mma_m16n8k16_bf16(d, a, b, c);
    for (int i = 0; i < 4; ++i)
        p.d[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2] = d[i];
}
RAWLORA_HOST_ENTRY(probe_tile_product, ProbeTileProduct)

// The scalar helpers over n values: bf16[i] = float_to_bf16(in[i]), back[i] = bf16_to_float(bf16[i]),
// packed[i] = pack_bf16x2(in[i], in[(i+1) % n]), exp2[i] = fast_exp2(in[i]).
struct ProbeConvert {
    const float* in;
    uint16_t* bf16;
    float* back;
    uint32_t* packed;
    float* exp2;
    int n;
};

extern "C" __global__ void probe_convert(ProbeConvert p)
{
    for (int i = threadIdx.x + blockIdx.x * blockDim.x; i < p.n; i += blockDim.x * gridDim.x)
    {
        p.bf16[i] = float_to_bf16(p.in[i]);
        p.back[i] = bf16_to_float(p.bf16[i]);
        p.packed[i] = pack_bf16x2(p.in[i], p.in[(i + 1) % p.n]);
        p.exp2[i] = fast_exp2(p.in[i]);
    }
}
RAWLORA_HOST_ENTRY(probe_convert, ProbeConvert)

// Every shuffle of a float and of an unsigned, and the votes, over the block's warps: thread i shuffles in[i] (and
// in[i] as bits) with arg[i]; out_f[i], out_u[i] get the results, votes[i] = ballot, any, all of in[i] > 0.
struct ProbeShuffle {
    const float* in;
    const int* arg;
    float* out_f;
    unsigned* out_u;
    unsigned* votes;
    int op;     // 0 __shfl_sync, 1 __shfl_up_sync, 2 __shfl_down_sync, 3 __shfl_xor_sync
    int width;
};

template <class T>
__device__ __forceinline__ T shuffle(int op, T v, int arg, int width)
{
    switch (op)
    {
    case 0: return __shfl_sync(0xffffffffu, v, arg, width);
    case 1: return __shfl_up_sync(0xffffffffu, v, static_cast<unsigned>(arg), width);
    case 2: return __shfl_down_sync(0xffffffffu, v, static_cast<unsigned>(arg), width);
    default: return __shfl_xor_sync(0xffffffffu, v, arg, width);
    }
}

extern "C" __global__ void probe_shuffle(ProbeShuffle p)
{
    unsigned i = threadIdx.x;
    float v = p.in[i];
    p.out_f[i] = shuffle(p.op, v, p.arg[i], p.width);
    p.out_u[i] = shuffle(p.op, __float_as_uint(v), p.arg[i], p.width);
    p.votes[3 * i] = __ballot_sync(0xffffffffu, v > 0);
    p.votes[3 * i + 1] = __any_sync(0xffffffffu, v > 0);
    p.votes[3 * i + 2] = __all_sync(0xffffffffu, v > 0);
}
RAWLORA_HOST_ENTRY(probe_shuffle, ProbeShuffle)

// cp.async groups: thread i copies 16-byte chunk i of src (zfill: src_bytes[i] of them) into shared memory in group
// i % 2, then snapshots the whole shared buffer (32 threads × 16 bytes) after wait_group 1 and after wait_group 0.
// Before each snapshot the buffer holds 0xee; only completed copies may show.
struct ProbeCpAsync {
    const uint8_t* src;
    const int* src_bytes;
    uint8_t* after_wait1;
    uint8_t* after_wait0;
};

extern "C" __global__ void probe_cp_async(ProbeCpAsync p)
{
    __shared__ __align__(16) uint8_t s[32 * 16];
    unsigned i = threadIdx.x;
    for (int k = 0; k < 16; ++k)
        s[16 * i + k] = 0xee;
    __syncwarp();
    if (i % 2 == 0)
        cp_async_16_zfill(s + 16 * i, p.src + 16 * i, p.src_bytes[i]);
    cp_async_commit();
    if (i % 2 == 1)
        cp_async_16_zfill(s + 16 * i, p.src + 16 * i, p.src_bytes[i]);
    cp_async_commit();
    cp_async_wait<1>();
    __syncwarp();
    for (int k = 0; k < 16; ++k)
        p.after_wait1[16 * i + k] = s[16 * i + k];
    cp_async_wait<0>();
    __syncwarp();
    for (int k = 0; k < 16; ++k)
        p.after_wait0[16 * i + k] = s[16 * i + k];
}
RAWLORA_HOST_ENTRY(probe_cp_async, ProbeCpAsync)

// __syncthreads across warps, in every block of a 3-D grid: for `rounds` rounds each thread writes its value to shared
// memory, the block syncs, and each thread adds the value of thread (i + 37·round) mod n. out[block][thread] gets the sum;
// ids[block][thread] gets threadIdx, blockIdx, blockDim and gridDim packed as bytes, one uint32 each; the dynamic shared
// memory's first word is read before any write (first_word[block][thread]).
struct ProbeBarrier {
    float* out;
    uint32_t* ids;
    uint32_t* first_word;
    int rounds;
};

extern "C" __global__ void probe_barrier(ProbeBarrier p)
{
    __shared__ float value[1024];
    DYNAMIC_SHARED(uint32_t, dyn);
    unsigned n = blockDim.x * blockDim.y * blockDim.z;
    unsigned i = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    p.first_word[block * n + i] = dyn[0];
    __syncthreads();
    float sum = 0;
    for (int round = 0; round < p.rounds; ++round)
    {
        value[i] = static_cast<float>(block * 1000 + round * 100 + i);
        dyn[i] = i;
        __syncthreads();
        sum += value[(i + 37u * round) % n] + static_cast<float>(dyn[(i + 1) % n] != (i + 1) % n);
        __syncthreads();
    }
    p.out[block * n + i] = sum;
    uint32_t* ids = p.ids + 4 * (block * n + i);
    ids[0] = threadIdx.x | threadIdx.y << 8 | threadIdx.z << 16;
    ids[1] = blockIdx.x | blockIdx.y << 8 | blockIdx.z << 16;
    ids[2] = blockDim.x | blockDim.y << 8 | blockDim.z << 16;
    ids[3] = gridDim.x | gridDim.y << 8 | gridDim.z << 16;
}
RAWLORA_HOST_ENTRY(probe_barrier, ProbeBarrier)

// atomicAdd of 1 by every thread of every block into *counter.
struct ProbeAtomic {
    float* counter;
};

extern "C" __global__ void probe_atomic(ProbeAtomic p) { atomicAdd(p.counter, 1.0f); }
RAWLORA_HOST_ENTRY(probe_atomic, ProbeAtomic)

// Work shaped like an attention tile loop, for timing: 4 warps each do `steps` × (ldmatrix.x4 + 4 mma), with a
// __syncthreads per step; out[thread] gets the accumulators' sum.
struct ProbeBusy {
    float* out;
    int steps;
};

extern "C" __global__ void probe_busy(ProbeBusy p)
{
    __shared__ __align__(16) uint16_t tile[64 * 16];
    unsigned i = threadIdx.x, lane = i % 32, warp = i / 32;
    for (unsigned k = i; k < 64 * 16; k += blockDim.x)
        tile[k] = float_to_bf16(static_cast<float>(k % 7) * 0.125f);
    __syncthreads();
    float acc[4][4] = {};
    for (int s = 0; s < p.steps; ++s)
    {
        uint32_t a[4];
        ldmatrix_x4(a, tile + (16 * warp + lane % 16) * 16 + 8 * (lane / 16));
        for (int n = 0; n < 4; ++n)
        {
            uint32_t b[2] = {a[n % 4], a[(n + 1) % 4]};
            mma_m16n8k16_bf16(acc[n], a, b, acc[n]);
        }
        __syncthreads();
    }
    float sum = 0;
    for (int n = 0; n < 4; ++n)
        for (int k = 0; k < 4; ++k)
            sum += acc[n][k];
    p.out[i] = sum;
}
RAWLORA_HOST_ENTRY(probe_busy, ProbeBusy)

// Faults the emulation must report instead of hanging, chosen by `mode`; the block has 64 threads.
struct ProbeFault {
    const volatile int* spin_until;  // mode 8: thread 0 spins until *spin_until is nonzero
    int mode;
};

extern "C" __global__ void probe_fault(ProbeFault p)
{
    __shared__ __align__(16) uint16_t tile[64 * 8];
    unsigned i = threadIdx.x;
    uint32_t r[4];
    switch (p.mode)
    {
    case 0:  // an ldmatrix row 2 bytes off 16-byte alignment
        ldmatrix_x4(r, tile + 8 * (i % 32) + (i == 3 ? 1 : 0));
        break;
    case 1:  // a cp.async destination off alignment
        cp_async_16(tile + 8 * i + 4, tile);
        break;
    case 2:  // thread 5 returns while the others wait at __syncthreads
        if (i == 5)
            return;
        __syncthreads();
        break;
    case 3:  // lane 7 returns while its warp shuffles
        if (i == 7)
            return;
        r[0] = __shfl_xor_sync(0xffffffffu, i, 1);
        __syncthreads();
        break;
    case 4:  // an assert
        assert(i != 40);
        __syncthreads();
        break;
    case 5:  // lanes of one warp in different collectives
        if (i % 2 == 0)
            r[0] = __shfl_xor_sync(0xffffffffu, i, 1);
        else
            ldmatrix_x1(r, tile);
        break;
    case 6:  // half a warp in a shuffle, the other half at __syncthreads
        if (i % 32 < 16)
            r[0] = __shfl_xor_sync(0xffffffffu, i, 1);
        else
            __syncthreads();
        break;
    case 8:  // a thread that spins (for as long as the test wants) while the others wait at __syncthreads
        while (i == 0 && *p.spin_until == 0)
        {
        }
        __syncthreads();
        break;
    case 7:  // a thread that faults while the others are further on, looping over barriers
        for (int k = 0; k < 100; ++k)
        {
            assert(!(i == 63 && k == 50));
            __syncthreads();
        }
        break;
    }
    tile[i] = static_cast<uint16_t>(r[0]);
}
RAWLORA_HOST_ENTRY(probe_fault, ProbeFault)
