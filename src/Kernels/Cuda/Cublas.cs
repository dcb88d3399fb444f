using System.Runtime.InteropServices;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// cuBLAS: a handle, its stream and workspace, and the strided batched GEMM with bf16 / f16 / f32 operands and float32
/// accumulation (cublasGemmStridedBatchedEx). Column-major, as cuBLAS is: <see cref="CublasGemmPlan"/> maps our
/// row-major views onto it.
/// </summary>
internal static unsafe partial class Cublas
{
    static Cublas() => CudaLibraries.UseResolver();

    /// <summary>cublasOperation_t.</summary>
    public const int OpN = 0, OpT = 1;

    /// <summary>cudaDataType_t: CUDA_R_32F, CUDA_R_16F, CUDA_R_16BF.</summary>
    public const int R32F = 0, R16F = 2, R16BF = 14;

    /// <summary>cublasComputeType_t: float32 accumulation; and float32 operands rounded to bf16 on the tensor cores.</summary>
    public const int Compute32F = 68, Compute32FFast16BF = 75;

    /// <summary>CUBLAS_GEMM_DEFAULT: cuBLAS picks the algorithm.</summary>
    public const int GemmDefault = -1;

    [LibraryImport(CudaLibraries.Cublas)]
    public static partial int cublasCreate_v2(out nint handle);

    [LibraryImport(CudaLibraries.Cublas)]
    public static partial int cublasDestroy_v2(nint handle);

    [LibraryImport(CudaLibraries.Cublas)]
    public static partial int cublasSetStream_v2(nint handle, nint stream);

    [LibraryImport(CudaLibraries.Cublas)]
    public static partial int cublasSetWorkspace_v2(nint handle, nint workspace, nuint bytes);

    [LibraryImport(CudaLibraries.Cublas)]
    public static partial int cublasGemmStridedBatchedEx(
        nint handle, int transa, int transb, int m, int n, int k,
        void* alpha, nint a, int aType, int lda, long strideA,
        nint b, int bType, int ldb, long strideB,
        void* beta, nint c, int cType, int ldc, long strideC,
        int batchCount, int computeType, int algo);

    [LibraryImport(CudaLibraries.Cublas)]
    private static partial byte* cublasGetStatusString(int status);

    /// <summary>Throws, naming <paramref name="call"/> and cuBLAS's status, unless it is CUBLAS_STATUS_SUCCESS.</summary>
    public static void Check(int status, string call)
    {
        if (status != 0)
            throw new InvalidOperationException($"cublas: {call} failed: {Marshal.PtrToStringUTF8((nint)cublasGetStatusString(status))} ({status})");
    }
}
