// The primitives every kernel of kernels.cu/ is written with (see the contract in docs and the issue on tensor-core
// kernels): bf16 as raw 16-bit words, the mma.sync m16n8k16 bf16 tensor-core step, ldmatrix, cp.async, a fast exp2.
// On the device they are inline PTX; with RAWLORA_HOST_EMU (plain g++ -std=c++20) they run on emu/cuda_emu.h, the host
// emulation the tests use. bf16 is never cuda_bf16.h's type, so the same code compiles on both sides.
#pragma once

#include <stdint.h>

#if defined(__CUDACC__)
#define DYNAMIC_SHARED(type, name) extern __shared__ __align__(16) type name[]
#define RAWLORA_HOST_ENTRY(kernel, Params)
#elif defined(RAWLORA_HOST_EMU)
#include "emu/cuda_emu.h"
#else
#error "common.cuh is compiled by nvcc for the device, or as host C++ with -DRAWLORA_HOST_EMU for the emulation"
#endif

__device__ __forceinline__ float bf16_to_float(uint16_t b) { return __uint_as_float(static_cast<uint32_t>(b) << 16); }

// Round to nearest even on the bit pattern; a NaN stays a (quiet) NaN instead of rounding into infinity.
__device__ __forceinline__ uint16_t float_to_bf16(float f)
{
    uint32_t u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return static_cast<uint16_t>((u >> 16) | 0x40u);
    return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// Two bf16 in one register, `lo` in bits 0..15: the order of the mma fragments and of memory.
__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi)
{
    return static_cast<uint32_t>(float_to_bf16(lo)) | static_cast<uint32_t>(float_to_bf16(hi)) << 16;
}

#if defined(__CUDACC__)

// A shared-memory address for the .shared state space, as ldmatrix and cp.async take it.
__device__ __forceinline__ uint32_t shared_address(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

// D = A·B + C on the tensor cores, fragments as the PTX ISA's "Matrix Fragments for mma.m16n8k16 with floating point type".
__device__ __forceinline__ void mma_m16n8k16_bf16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4])
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};\n"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}

__device__ __forceinline__ void ldmatrix_x1(uint32_t r[1], const void* smem_row)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(shared_address(smem_row)) : "memory");
}
__device__ __forceinline__ void ldmatrix_x2(uint32_t r[2], const void* smem_row)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(shared_address(smem_row)) : "memory");
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void* smem_row)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(shared_address(smem_row)) : "memory");
}
__device__ __forceinline__ void ldmatrix_x1_trans(uint32_t r[1], const void* smem_row)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(shared_address(smem_row)) : "memory");
}
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t r[2], const void* smem_row)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(shared_address(smem_row)) : "memory");
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void* smem_row)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(shared_address(smem_row)) : "memory");
}

// .cg: cached in L2 only, since a tile is read once into shared memory.
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(shared_address(smem)), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async_16_zfill(void* smem, const void* gmem, int src_bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(smem)), "l"(gmem), "r"(src_bytes) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }

// 2^x by the special function unit (ex2.approx, flushing denormals), the exponential of an online softmax in base 2.
__device__ __forceinline__ float fast_exp2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

#else

__device__ __forceinline__ void mma_m16n8k16_bf16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4]) { emu::mma(d, a, b, c); }
__device__ __forceinline__ void ldmatrix_x1(uint32_t r[1], const void* smem_row) { emu::ldmatrix(r, smem_row, 1, false); }
__device__ __forceinline__ void ldmatrix_x2(uint32_t r[2], const void* smem_row) { emu::ldmatrix(r, smem_row, 2, false); }
__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void* smem_row) { emu::ldmatrix(r, smem_row, 4, false); }
__device__ __forceinline__ void ldmatrix_x1_trans(uint32_t r[1], const void* smem_row) { emu::ldmatrix(r, smem_row, 1, true); }
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t r[2], const void* smem_row) { emu::ldmatrix(r, smem_row, 2, true); }
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void* smem_row) { emu::ldmatrix(r, smem_row, 4, true); }
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem) { emu::cp_async(smem, gmem, 16); }
__device__ __forceinline__ void cp_async_16_zfill(void* smem, const void* gmem, int src_bytes) { emu::cp_async(smem, gmem, src_bytes); }
__device__ __forceinline__ void cp_async_commit() { emu::cp_async_commit(); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { emu::cp_async_wait(N); }
__device__ __forceinline__ float fast_exp2(float x) { return exp2f(x); }

#endif
