using System.Runtime.InteropServices;
using RawLongLoRA.Kernels.Cuda;

namespace RawLongLoRA.Distributed;

/// <summary>
/// NCCL 2 (<c>libnccl.so.2</c>) as C declares it, and the one CUDA driver call the communicator polls with. Every NCCL
/// call returns an ncclResult_t (0 = success); collectives are enqueued on a CUDA stream.
/// </summary>
internal static unsafe partial class NcclNative
{
    public const int Success = 0, InProgress = 7;

    /// <summary>ncclRedOp_t.</summary>
    public const int Sum = 0, Avg = 4;

    /// <summary>CUDA_ERROR_NOT_READY: cuStreamQuery's "still running".</summary>
    public const int CudaNotReady = 600;

    static NcclNative() => DistributedLibraries.UseResolver();

    /// <summary>ncclUniqueId: 128 opaque bytes that rank 0 makes and every rank passes to <see cref="ncclCommInitRank"/>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct UniqueId
    {
        public fixed byte Bytes[128];
    }

    /// <summary>ncclDataType_t of <paramref name="t"/>; the dtypes without one move as bytes (ncclUint8).</summary>
    public static int DataType(DType t) => t switch
    {
        DType.F32 => 7,
        DType.F16 => 6,
        DType.BF16 => 9,
        DType.I32 => 2,
        DType.I64 => 4,
        _ => 1,
    };

    /// <summary>Elements of <see cref="DataType"/> in <paramref name="t"/>: bytes for the dtypes moved as bytes.</summary>
    public static nuint Count(Tensor t, long elements) => (nuint)(DataType(t.DType) == 1 ? elements * t.DType.Size() : elements);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclGetUniqueId(UniqueId* id);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclCommInitRank(out nint comm, int ranks, UniqueId id, int rank);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclCommSplit(nint comm, int color, int key, out nint newComm, void* config);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclCommCount(nint comm, out int count);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclCommUserRank(nint comm, out int rank);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclCommAbort(nint comm);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclCommDestroy(nint comm);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclCommGetAsyncError(nint comm, out int error);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial byte* ncclGetErrorString(int result);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclAllReduce(void* send, void* receive, nuint count, int type, int op, nint comm, nint stream);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclAllGather(void* send, void* receive, nuint sendCount, int type, nint comm, nint stream);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclReduceScatter(void* send, void* receive, nuint receiveCount, int type, int op, nint comm, nint stream);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclBroadcast(void* send, void* receive, nuint count, int type, int root, nint comm, nint stream);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclSend(void* send, nuint count, int type, int peer, nint comm, nint stream);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclRecv(void* receive, nuint count, int type, int peer, nint comm, nint stream);

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclGroupStart();

    [LibraryImport(DistributedLibraries.Nccl)]
    public static partial int ncclGroupEnd();

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuStreamQuery(nint stream);
}
