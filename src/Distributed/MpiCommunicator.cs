using System.Text;
using static RawLongLoRA.Distributed.MpiNative;

namespace RawLongLoRA.Distributed;

/// <summary>
/// A group of processes over OpenMPI, moving contiguous host tensors: the world of <see cref="Mpi.World"/> or a group
/// <see cref="Split"/> from it. Every operation is issued non-blocking and polled (<see cref="MpiRequest"/>), so a peer
/// that died or never makes the call gives <see cref="CommunicatorException"/> after <see cref="Timeout"/> instead of
/// a hang; after such a failure the communicator refuses further calls (its peers are out of step).
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    /// <summary>Serialises MPI calls: MPI is initialised MPI_THREAD_SERIALIZED.</summary>
    internal static readonly Lock Gate = new();

    private readonly bool _world;
    private nint _comm;
    private string? _failure;

    internal MpiCommunicator(nint comm, bool world, TimeSpan timeout)
    {
        _comm = comm;
        _world = world;
        Timeout = timeout;
        Check("comm_rank", MPI_Comm_rank(comm, out int rank));
        Check("comm_size", MPI_Comm_size(comm, out int size));
        Rank = rank;
        Size = size;
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>
    /// This process's index among the ranks on its machine (the GPU it takes): from the launcher's environment
    /// (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID, SLURM_LOCALID), else from a shared-memory split of the world;
    /// groups split from the world keep the world's value.
    /// </summary>
    public int LocalRank { get; internal set; }

    /// <inheritdoc/>
    public TimeSpan Timeout { get; set; }

    /// <inheritdoc/>
    public void AllReduce(Tensor tensor, ReduceKind kind = ReduceKind.Sum) => StartAllReduce(tensor, kind).Wait();

    /// <inheritdoc/>
    public ICommRequest StartAllReduce(Tensor tensor, ReduceKind kind = ReduceKind.Sum)
    {
        const string op = "all_reduce";
        Ready(op);
        CommChecks.Tensor(op, "tensor", tensor, Device.Cpu);
        CommChecks.Reducible(op, tensor, CommChecks.HostReducible);
        var request = new MpiRequest(this, op, Everyone, 1, tensor);
        using (Gate.EnterScope())
            Check(op, MPI_Iallreduce(InPlace, (void*)tensor.DataPointer, (int)tensor.Numel, Handles.Of(tensor.DType), Handles.Sum, _comm, request.Slot(0)));
        return kind == ReduceKind.Avg ? request.Then(() => DivideOnHost(tensor, Size)) : request;
    }

    /// <inheritdoc/>
    public void AllGather(Tensor dst, Tensor src)
    {
        const string op = "all_gather";
        Ready(op);
        CommChecks.Gather(op, dst, "dst", src, "src", Device.Cpu, Size);
        var request = new MpiRequest(this, op, Everyone, 1, dst, src);
        nint type = Handles.Of(src.DType);
        using (Gate.EnterScope())
            Check(op, MPI_Iallgather((void*)src.DataPointer, (int)src.Numel, type, (void*)dst.DataPointer, (int)src.Numel, type, _comm, request.Slot(0)));
        request.Wait();
    }

    /// <inheritdoc/>
    public void ReduceScatter(Tensor dst, Tensor src, ReduceKind kind = ReduceKind.Sum)
    {
        const string op = "reduce_scatter";
        Ready(op);
        CommChecks.Gather(op, src, "src", dst, "dst", Device.Cpu, Size);
        CommChecks.Reducible(op, src, CommChecks.HostReducible);
        var request = new MpiRequest(this, op, Everyone, 1, dst, src);
        using (Gate.EnterScope())
            Check(op, MPI_Ireduce_scatter_block((void*)src.DataPointer, (void*)dst.DataPointer, (int)dst.Numel, Handles.Of(src.DType), Handles.Sum, _comm, request.Slot(0)));
        if (kind == ReduceKind.Avg)
            request.Then(() => DivideOnHost(dst, Size));
        request.Wait();
    }

    /// <inheritdoc/>
    public void AllToAll(Tensor dst, ReadOnlySpan<int> receiveCounts, Tensor src, ReadOnlySpan<int> sendCounts)
    {
        const string op = "all_to_all";
        Ready(op);
        CommChecks.AllToAll(dst, receiveCounts, src, sendCounts, Device.Cpu, Size);
        // The count and displacement arrays must outlive the non-blocking call: pinned, and kept by the request.
        int[] sc = Pinned(sendCounts), sd = Offsets(sc), rc = Pinned(receiveCounts), rd = Offsets(rc);
        var request = new MpiRequest(this, op, Everyone, 1, dst, src, sc, sd, rc, rd);
        nint type = Handles.Of(src.DType);
        fixed (int* s = sc, sdp = sd, r = rc, rdp = rd)
            using (Gate.EnterScope())
                Check(op, MPI_Ialltoallv((void*)src.DataPointer, s, sdp, type, (void*)dst.DataPointer, r, rdp, type, _comm, request.Slot(0)));
        request.Wait();
    }

    /// <inheritdoc/>
    public void Send(Tensor tensor, int peer, int tag = 0) => PointToPoint(receive: false, tensor, peer, tag).Wait();

    /// <inheritdoc/>
    public void Receive(Tensor tensor, int peer, int tag = 0) => PointToPoint(receive: true, tensor, peer, tag).Wait();

    /// <inheritdoc/>
    public ICommRequest StartSendReceive(Tensor send, int to, Tensor receive, int from, int tag = 0)
    {
        const string op = "send_receive";
        Ready(op);
        CommChecks.Tensor(op, "send", send, Device.Cpu);
        CommChecks.Tensor(op, "receive", receive, Device.Cpu);
        CommChecks.Peer(op, "to", to, Size);
        CommChecks.Peer(op, "from", from, Size);
        CommChecks.Tag(op, tag);
        var request = new MpiRequest(this, op, $"rank {to} (send, tag {tag}) and rank {from} (receive)", 2, send, receive);
        nint receiveType = Handles.Of(receive.DType);
        using (Gate.EnterScope())
        {
            // The receive first, so the peer's send finds it posted.
            Check(op, MPI_Irecv((void*)receive.DataPointer, (int)receive.Numel, receiveType, from, tag, _comm, request.Slot(0)));
            Check(op, MPI_Isend((void*)send.DataPointer, (int)send.Numel, Handles.Of(send.DType), to, tag, _comm, request.Slot(1)));
        }
        return request.ExpectReceived(0, (int)receive.Numel, receiveType, from);
    }

    /// <inheritdoc/>
    public void Broadcast(Tensor tensor, int root)
    {
        const string op = "broadcast";
        Ready(op);
        CommChecks.Tensor(op, "tensor", tensor, Device.Cpu);
        CommChecks.Peer(op, "root", root, Size);
        var request = new MpiRequest(this, op, Everyone, 1, tensor);
        using (Gate.EnterScope())
            Check(op, MPI_Ibcast((void*)tensor.DataPointer, (int)tensor.Numel, Handles.Of(tensor.DType), root, _comm, request.Slot(0)));
        request.Wait();
    }

    /// <inheritdoc/>
    public void Barrier()
    {
        const string op = "barrier";
        Ready(op);
        var request = new MpiRequest(this, op, Everyone, 1);
        using (Gate.EnterScope())
            Check(op, MPI_Ibarrier(_comm, request.Slot(0)));
        request.Wait();
    }

    /// <inheritdoc/>
    public ICommunicator Split(int color, int key)
    {
        const string op = "split";
        Ready(op);
        CommChecks.Color(color);
        // MPI_Comm_split blocks: meet first at a polled barrier, so a rank that never comes is a timeout.
        Barrier();
        nint group;
        using (Gate.EnterScope())
        {
            Check(op, MPI_Comm_split(_comm, color, key, out group));
            Check(op, MPI_Comm_set_errhandler(group, Handles.ErrorsReturn));
        }
        return new MpiCommunicator(group, world: false, Timeout) { LocalRank = LocalRank };
    }

    /// <summary>Frees a split group; the world is finalised by <see cref="Mpi.Shutdown"/> (or at exit).</summary>
    public void Dispose()
    {
        if (_world)
            Mpi.Shutdown();
        else if (_comm != 0 && _failure is null && !Mpi.Finalized)
            using (Gate.EnterScope())
                MPI_Comm_free(ref _comm);
        _comm = 0;
    }

    private MpiRequest PointToPoint(bool receive, Tensor tensor, int peer, int tag)
    {
        string op = receive ? "receive" : "send";
        Ready(op);
        CommChecks.Tensor(op, "tensor", tensor, Device.Cpu);
        CommChecks.Peer(op, "peer", peer, Size);
        CommChecks.Tag(op, tag);
        var request = new MpiRequest(this, op, $"rank {peer} (tag {tag})", 1, tensor);
        nint type = Handles.Of(tensor.DType);
        void* p = (void*)tensor.DataPointer;
        int n = (int)tensor.Numel;
        using (Gate.EnterScope())
            Check(op, receive ? MPI_Irecv(p, n, type, peer, tag, _comm, request.Slot(0)) : MPI_Isend(p, n, type, peer, tag, _comm, request.Slot(0)));
        return receive ? request.ExpectReceived(0, n, type, peer) : request;
    }

    private string Everyone => $"the other ranks of this group of {Size}";

    /// <summary>
    /// Records the failure of <paramref name="op"/> (an MPI error code, or a timeout) so that later calls refuse, and
    /// returns the exception to throw, naming the op, this rank, the peers and the timeout.
    /// </summary>
    internal CommunicatorException Fail(string op, string peers, int code = 0, bool timedOut = false)
    {
        string what = timedOut
            ? CommPoll.TimedOut(op, this, peers)
            : $"{op} failed on rank {Rank} of {Size} with {peers}: {ErrorText(code)}";
        _failure = what;
        Mpi.MarkFailed();
        return new CommunicatorException(what);
    }

    private void Ready(string op)
    {
        ObjectDisposedException.ThrowIf(_comm == 0, this);
        CommChecks.NotFailed(op, Rank, _failure);
    }

    private void Check(string op, int code)
    {
        if (code != 0)
            throw Fail(op, Everyone, code);
    }

    internal static string ErrorText(int code)
    {
        var text = stackalloc byte[512]; // MPI_MAX_ERROR_STRING is 256
        using (Gate.EnterScope())
            if (MPI_Error_string(code, text, out int length) == 0)
                return Encoding.UTF8.GetString(text, length);
        return $"MPI error {code}";
    }

    private static int[] Pinned(ReadOnlySpan<int> values)
    {
        var array = GC.AllocateArray<int>(values.Length, pinned: true);
        values.CopyTo(array);
        return array;
    }

    private static int[] Offsets(int[] counts)
    {
        var offsets = GC.AllocateArray<int>(counts.Length, pinned: true);
        for (int i = 1; i < counts.Length; i++)
            offsets[i] = offsets[i - 1] + counts[i - 1];
        return offsets;
    }

    /// <summary>The mean from the sum: MPI has no average op.</summary>
    internal static void DivideOnHost(Tensor t, int size)
    {
        switch (t.DType)
        {
            case DType.F32:
                foreach (ref float x in t.AsSpan<float>())
                    x /= size;
                break;
            case DType.I32:
                foreach (ref int x in t.AsSpan<int>())
                    x /= size;
                break;
            default:
                foreach (ref long x in t.AsSpan<long>())
                    x /= size;
                break;
        }
    }

    /// <summary>OpenMPI's predefined handles, read once from its exported globals.</summary>
    internal static class Handles
    {
        public static readonly nint Sum = Global("ompi_mpi_op_sum"), ErrorsReturn = Global("ompi_mpi_errors_return");
        public static readonly nint World = Global("ompi_mpi_comm_world"), InfoNull = Global("ompi_mpi_info_null");
        private static readonly nint F32 = Global("ompi_mpi_float"), I32 = Global("ompi_mpi_int32_t"), I64 = Global("ompi_mpi_int64_t");
        private static readonly nint[] BySize = [0, Global("ompi_mpi_uint8_t"), Global("ompi_mpi_uint16_t"), 0, Global("ompi_mpi_uint32_t"), 0, 0, 0, Global("ompi_mpi_uint64_t")];

        /// <summary>The MPI datatype of <paramref name="t"/>: the reducible ones by kind, the others as bytes of their size.</summary>
        public static nint Of(DType t) => t switch
        {
            DType.F32 => F32,
            DType.I32 => I32,
            DType.I64 => I64,
            _ => BySize[t.Size()],
        };
    }
}
