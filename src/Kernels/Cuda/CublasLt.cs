using System.Runtime.InteropServices;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// cuBLASLt: the matmul descriptor (compute and scale type, transposes), matrix layouts with a batch count and batch
/// strides, the heuristic that picks an algorithm for them, and cublasLtMatmul (bf16 in, float32 accumulate). Its
/// statuses are cuBLAS's: <see cref="Cublas.Check"/> reads them.
/// </summary>
internal static unsafe partial class CublasLt
{
    static CublasLt() => CudaLibraries.UseResolver();

    /// <summary>cublasLtMatmulDescAttributes_t: CUBLASLT_MATMUL_DESC_TRANSA, _TRANSB.</summary>
    public const int DescTransA = 3, DescTransB = 4;

    /// <summary>cublasLtMatrixLayoutAttribute_t: CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT (int32), _STRIDED_BATCH_OFFSET (int64).</summary>
    public const int LayoutBatchCount = 5, LayoutBatchStride = 6;

    /// <summary>cublasLtMatmulPreferenceAttributes_t: CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES (uint64).</summary>
    public const int PreferenceMaxWorkspace = 1;

    /// <summary>cublasLtMatmulHeuristicResult_t: the algorithm (opaque, 64 bytes) and what it needs.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct HeuristicResult
    {
        /// <summary>cublasLtMatmulAlgo_t: uint64_t data[8].</summary>
        public fixed ulong Algo[8];

        /// <summary>Workspace bytes the algorithm needs.</summary>
        public nuint WorkspaceSize;

        /// <summary>CUBLAS_STATUS_SUCCESS where the algorithm fits.</summary>
        public int State;

        /// <summary>Waves of blocks over the GPU's multiprocessors (1.0: one full wave).</summary>
        public float WavesCount;

        /// <summary>Reserved by cuBLASLt.</summary>
        public fixed int Reserved[4];
    }

    [LibraryImport(CudaLibraries.CublasLt)]
    public static partial int cublasLtCreate(out nint handle);

    [LibraryImport(CudaLibraries.CublasLt)]
    public static partial int cublasLtDestroy(nint handle);

    [LibraryImport(CudaLibraries.CublasLt)]
    public static partial int cublasLtMatmulDescCreate(out nint desc, int computeType, int scaleType);

    [LibraryImport(CudaLibraries.CublasLt)]
    public static partial int cublasLtMatmulDescDestroy(nint desc);

    [LibraryImport(CudaLibraries.CublasLt)]
    public static partial int cublasLtMatmulDescSetAttribute(nint desc, int attribute, void* value, nuint bytes);

    [LibraryImport(CudaLibraries.CublasLt)]
    public static partial int cublasLtMatrixLayoutCreate(out nint layout, int type, ulong rows, ulong cols, long ld);

    [LibraryImport(CudaLibraries.CublasLt)]
    public static partial int cublasLtMatrixLayoutDestroy(nint layout);

    [LibraryImport(CudaLibraries.CublasLt)]
    public static partial int cublasLtMatrixLayoutSetAttribute(nint layout, int attribute, void* value, nuint bytes);

    [LibraryImport(CudaLibraries.CublasLt)]
    public static partial int cublasLtMatmulPreferenceCreate(out nint preference);

    [LibraryImport(CudaLibraries.CublasLt)]
    public static partial int cublasLtMatmulPreferenceDestroy(nint preference);

    [LibraryImport(CudaLibraries.CublasLt)]
    public static partial int cublasLtMatmulPreferenceSetAttribute(nint preference, int attribute, void* value, nuint bytes);

    [LibraryImport(CudaLibraries.CublasLt)]
    public static partial int cublasLtMatmulAlgoGetHeuristic(nint handle, nint desc, nint aLayout, nint bLayout, nint cLayout, nint dLayout,
                                                             nint preference, int requested, HeuristicResult* results, out int returned);

    [LibraryImport(CudaLibraries.CublasLt)]
    public static partial int cublasLtMatmul(nint handle, nint desc, void* alpha, nint a, nint aLayout, nint b, nint bLayout,
                                             void* beta, nint c, nint cLayout, nint d, nint dLayout, ulong* algo,
                                             nint workspace, nuint workspaceBytes, nint stream);
}
