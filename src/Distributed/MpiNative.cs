using System.Runtime.InteropServices;

namespace RawLongLoRA.Distributed;

/// <summary>
/// OpenMPI 4 (<c>libmpi.so.40</c>) as C declares it. Its handles (MPI_Comm, MPI_Datatype, MPI_Op, MPI_Request, ...)
/// are pointers; the predefined ones are the addresses of exported globals (<c>ompi_mpi_comm_world</c>,
/// <c>ompi_mpi_float</c>, ...), read with <see cref="Global"/>. Every call returns an MPI error code (0 = success).
/// </summary>
internal static unsafe partial class MpiNative
{
    /// <summary>MPI_THREAD_SERIALIZED: any thread may call, one at a time (the communicators hold a lock).</summary>
    public const int ThreadSerialized = 2;

    /// <summary>MPI_IN_PLACE in OpenMPI.</summary>
    public static readonly void* InPlace = (void*)1;

    static MpiNative() => DistributedLibraries.UseResolver();

    /// <summary>The address of OpenMPI's exported global <paramref name="name"/>: a predefined handle.</summary>
    public static nint Global(string name) => NativeLibrary.GetExport(DistributedLibraries.Load(DistributedLibraries.Mpi), name);

    /// <summary>OpenMPI's MPI_Status (ompi_status_public_t).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Status
    {
        public int Source, Tag, Error, Cancelled;
        public nuint UCount;
    }

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Init_thread(int* argc, byte*** argv, int required, out int provided);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Initialized(out int flag);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Finalize();

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Abort(nint comm, int code);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Comm_rank(nint comm, out int rank);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Comm_size(nint comm, out int size);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Comm_split(nint comm, int color, int key, out nint newComm);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Comm_split_type(nint comm, int type, int key, nint info, out nint newComm);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Comm_free(ref nint comm);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Comm_set_errhandler(nint comm, nint handler);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Error_string(int code, byte* text, out int length);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Iallreduce(void* send, void* receive, int count, nint type, nint op, nint comm, nint* request);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Iallgather(void* send, int sendCount, nint sendType, void* receive, int receiveCount, nint receiveType, nint comm, nint* request);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Ireduce_scatter_block(void* send, void* receive, int receiveCount, nint type, nint op, nint comm, nint* request);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Ialltoallv(void* send, int* sendCounts, int* sendDispls, nint sendType,
                                             void* receive, int* receiveCounts, int* receiveDispls, nint receiveType, nint comm, nint* request);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Isend(void* buffer, int count, nint type, int dest, int tag, nint comm, nint* request);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Irecv(void* buffer, int count, nint type, int source, int tag, nint comm, nint* request);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Ibcast(void* buffer, int count, nint type, int root, nint comm, nint* request);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Ibarrier(nint comm, nint* request);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Testall(int count, nint* requests, out int flag, Status* statuses);

    [LibraryImport(DistributedLibraries.Mpi)]
    public static partial int MPI_Get_count(Status* status, nint type, out int count);
}
