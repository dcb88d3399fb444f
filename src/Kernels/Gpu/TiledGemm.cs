using ILGPU;
using ILGPU.Runtime;
using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// The tensor GEMM by <see cref="GemmKernels.Tiled"/> on any ILGPU accelerator: the CPU accelerator's GEMM and, on
/// CUDA, the reference the cuBLAS path can fall back to or be compared with. The contract and checks are the CPU
/// backend's (<see cref="GemmCall.Shape"/>): any strides, batch broadcasting, F32/BF16/F16 operands into F32.
/// </summary>
internal static class TiledGemm
{
    /// <summary>
    /// The most threads a group gets: 16 × 16 threads on a GPU, tiles of 64 × 64 (32 KB of shared memory for the two;
    /// 48 KB is the most a launch gets without cuFuncSetAttribute).
    /// </summary>
    private const int MaxGroup = 256;

    /// <summary>
    /// c = alpha·a@b + beta·c on <paramref name="backend"/>'s stream; beta = 0 never reads c; at
    /// <see cref="Precision.Bf16"/> every operand element is rounded to bfloat16 first, products summed in float32.
    /// </summary>
    public static void Run(IlgpuBackend backend, Tensor c, Tensor a, Tensor b, float alpha, float beta, Precision precision)
    {
        backend.Require("gemm", c, a, b);
        var s = GemmCall.Shape(c, a, b);
        if (s.Batch == 0 || s.M == 0 || s.N == 0)
            return;
        int side = Side(backend.Accelerator.MaxNumThreadsPerGroup), tile = GemmKernels.Micro * side;
        var tiles = new GemmTiles
        {
            M = s.M,
            N = s.N,
            K = alpha == 0f ? 0 : s.K,
            Side = side,
            TilesN = (s.N + tile - 1) / tile,
            TilesM = (s.M + tile - 1) / tile,
            Alpha = alpha,
            Beta = beta,
            RoundBf16 = precision == Precision.Bf16 ? 1 : 0,
        };
        var grid = IlgpuBackend.Extent("gemm", (long)tiles.TilesN * tiles.TilesM * s.Batch, c, a, b);
        var config = new KernelConfig(grid, new Index1D(side * side), SharedMemoryConfig.RequestDynamic<float>(2 * tile * tile));
        var k = backend.Kernel(static acc => acc.LoadKernel<GemmMatrix, GemmMatrix, GemmMatrix, GemmTiles>(GemmKernels.Tiled));
        k(backend.Stream, config, Matrix(a, s.BatchA), Matrix(b, s.BatchB), Matrix(c, s.BatchC), tiles);
    }

    /// <summary>
    /// Threads along a tile's edge for groups of at most <paramref name="maxThreadsPerGroup"/> threads: the largest power
    /// of two whose square fits (4 on the tests' 16-thread groups, 16 on a GPU).
    /// </summary>
    internal static int Side(int maxThreadsPerGroup)
    {
        int limit = Math.Min(maxThreadsPerGroup, MaxGroup), side = 1;
        while (4 * side * side <= limit)
            side *= 2;
        return side;
    }

    private static GemmMatrix Matrix(Tensor t, long batchStride)
        => new() { E = IlgpuBackend.Elems(t), Row = t.Strides[^2], Col = t.Strides[^1], Batch = batchStride };
}
