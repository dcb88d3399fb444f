using System.Runtime.InteropServices;
using RawLongLoRA.Kernels.Cuda;
using RawLongLoRA.Kernels.Gpu;
using static RawLongLoRA.Distributed.NcclNative;

namespace RawLongLoRA.Distributed;

/// <summary>
/// A group of processes over NCCL, moving contiguous tensors on one CUDA device, on the CUDA backend's stream. It is
/// made from a host communicator (<see cref="Create"/>: rank 0's NCCL id travels over it). Calls are enqueued on the
/// stream and then polled (cuStreamQuery, ncclCommGetAsyncError) until done or <see cref="Timeout"/>, when the NCCL
/// communicator is aborted and <see cref="CommunicatorException"/> thrown. NCCL has no tags: sends and receives
/// between two ranks match in the order they are made.
/// </summary>
public sealed unsafe class NcclCommunicator : ICommunicator
{
    /// <summary>The dtypes NCCL reduces; any dtype moves.</summary>
    private static readonly DType[] Reducible = [DType.F32, DType.BF16, DType.F16, DType.I32, DType.I64];

    private readonly Device _device;
    private readonly nint _stream;
    private readonly IlgpuBackend? _backend;
    private nint _comm;
    private string? _failure;

    /// <summary>Wraps an initialised NCCL communicator; <paramref name="backend"/> is null only in tests of the argument checks.</summary>
    internal NcclCommunicator(nint comm, int rank, int size, Device device, nint stream, IlgpuBackend? backend, TimeSpan timeout)
    {
        (_comm, Rank, Size, _device, _stream, _backend, Timeout) = (comm, rank, size, device, stream, backend, timeout);
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <inheritdoc/>
    public TimeSpan Timeout { get; set; }

    /// <summary>
    /// The NCCL communicator of <paramref name="bootstrap"/>'s ranks (same rank numbers) on <paramref name="device"/>
    /// (a CUDA device of the GPU backend; each rank its own, usually cuda:LocalRank). Every rank of
    /// <paramref name="bootstrap"/> must call it.
    /// </summary>
    public static NcclCommunicator Create(ICommunicator bootstrap, Device device)
    {
        ArgumentNullException.ThrowIfNull(bootstrap);
        if (device.Type != DeviceType.Cuda)
            throw new ArgumentException($"nccl: {device} is not a CUDA device; NCCL moves tensors on cuda:N", nameof(device));
        if (device.Backend is not IlgpuBackend { IsCuda: true } backend)
            throw new ArgumentException($"nccl: {device}'s backend is not the CUDA backend", nameof(device));
        var id = default(UniqueId);
        using (var bytes = Tensor.Zeros([sizeof(UniqueId)], DType.U8))
        {
            if (bootstrap.Rank == 0)
            {
                CheckSetup("get_unique_id", ncclGetUniqueId(&id));
                new ReadOnlySpan<byte>(&id, sizeof(UniqueId)).CopyTo(bytes.AsSpan<byte>());
            }
            // Every rank is present once this returns, so the blocking init below meets its peers.
            bootstrap.Broadcast(bytes, 0);
            bytes.AsSpan<byte>().CopyTo(new Span<byte>(&id, sizeof(UniqueId)));
        }
        CudaHandles.Bind(backend);
        CheckSetup("comm_init_rank", ncclCommInitRank(out nint comm, bootstrap.Size, id, bootstrap.Rank));
        return new NcclCommunicator(comm, bootstrap.Rank, bootstrap.Size, device, CudaHandles.Stream(backend), backend, bootstrap.Timeout);
    }

    /// <inheritdoc/>
    public void AllReduce(Tensor tensor, ReduceKind kind = ReduceKind.Sum) => StartAllReduce(tensor, kind).Wait();

    /// <inheritdoc/>
    public ICommRequest StartAllReduce(Tensor tensor, ReduceKind kind = ReduceKind.Sum)
    {
        const string op = "all_reduce";
        Begin(op);
        CommChecks.Tensor(op, "tensor", tensor, _device);
        CommChecks.Reducible(op, tensor, Reducible);
        var p = (void*)tensor.DataPointer;
        Check(op, ncclAllReduce(p, p, NcclNative.Count(tensor, tensor.Numel), DataType(tensor.DType), Op(kind), _comm, _stream));
        return new Request(this, op);
    }

    /// <inheritdoc/>
    public void AllGather(Tensor dst, Tensor src)
    {
        const string op = "all_gather";
        Begin(op);
        CommChecks.Gather(op, dst, "dst", src, "src", _device, Size);
        Check(op, ncclAllGather((void*)src.DataPointer, (void*)dst.DataPointer, NcclNative.Count(src, src.Numel), DataType(src.DType), _comm, _stream));
        new Request(this, op).Wait();
    }

    /// <inheritdoc/>
    public void ReduceScatter(Tensor dst, Tensor src, ReduceKind kind = ReduceKind.Sum)
    {
        const string op = "reduce_scatter";
        Begin(op);
        CommChecks.Gather(op, src, "src", dst, "dst", _device, Size);
        CommChecks.Reducible(op, src, Reducible);
        Check(op, ncclReduceScatter((void*)src.DataPointer, (void*)dst.DataPointer, NcclNative.Count(dst, dst.Numel), DataType(src.DType), Op(kind), _comm, _stream));
        new Request(this, op).Wait();
    }

    /// <inheritdoc/>
    public void AllToAll(Tensor dst, ReadOnlySpan<int> receiveCounts, Tensor src, ReadOnlySpan<int> sendCounts)
    {
        const string op = "all_to_all";
        Begin(op);
        CommChecks.AllToAll(dst, receiveCounts, src, sendCounts, _device, Size);
        // NCCL has no all-to-all: one send and one receive per peer, issued as one group.
        int type = DataType(src.DType), size = src.DType.Size();
        long sent = 0, received = 0;
        Check(op, ncclGroupStart());
        for (int peer = 0; peer < Size; peer++)
        {
            if (sendCounts[peer] > 0)
                Check(op, ncclSend((byte*)src.DataPointer + sent * size, NcclNative.Count(src, sendCounts[peer]), type, peer, _comm, _stream));
            if (receiveCounts[peer] > 0)
                Check(op, ncclRecv((byte*)dst.DataPointer + received * size, NcclNative.Count(dst, receiveCounts[peer]), type, peer, _comm, _stream));
            sent += sendCounts[peer];
            received += receiveCounts[peer];
        }
        Check(op, ncclGroupEnd());
        new Request(this, op).Wait();
    }

    /// <inheritdoc/>
    public void Send(Tensor tensor, int peer, int tag = 0) => PointToPoint(receive: false, tensor, peer);

    /// <inheritdoc/>
    public void Receive(Tensor tensor, int peer, int tag = 0) => PointToPoint(receive: true, tensor, peer);

    /// <inheritdoc/>
    public ICommRequest StartSendReceive(Tensor send, int to, Tensor receive, int from, int tag = 0)
    {
        const string op = "send_receive";
        Begin(op);
        CommChecks.Tensor(op, "send", send, _device);
        CommChecks.Tensor(op, "receive", receive, _device);
        CommChecks.Peer(op, "to", to, Size);
        CommChecks.Peer(op, "from", from, Size);
        Check(op, ncclGroupStart());
        Check(op, ncclSend((void*)send.DataPointer, NcclNative.Count(send, send.Numel), DataType(send.DType), to, _comm, _stream));
        Check(op, ncclRecv((void*)receive.DataPointer, NcclNative.Count(receive, receive.Numel), DataType(receive.DType), from, _comm, _stream));
        Check(op, ncclGroupEnd());
        return new Request(this, op);
    }

    /// <inheritdoc/>
    public void Broadcast(Tensor tensor, int root)
    {
        const string op = "broadcast";
        Begin(op);
        CommChecks.Tensor(op, "tensor", tensor, _device);
        CommChecks.Peer(op, "root", root, Size);
        var p = (void*)tensor.DataPointer;
        Check(op, ncclBroadcast(p, p, NcclNative.Count(tensor, tensor.Numel), DataType(tensor.DType), root, _comm, _stream));
        new Request(this, op).Wait();
    }

    /// <summary>NCCL has no barrier: an all-reduce of one element, polled like every call.</summary>
    public void Barrier()
    {
        using var one = Tensor.Zeros([1], DType.F32, _device);
        AllReduce(one);
    }

    /// <inheritdoc/>
    public ICommunicator Split(int color, int key)
    {
        const string op = "split";
        Begin(op);
        CommChecks.Color(color);
        // ncclCommSplit blocks: meet first at a polled barrier, so a rank that never comes is a timeout.
        Barrier();
        Check(op, ncclCommSplit(_comm, color, key, out nint group, null));
        Check(op, ncclCommUserRank(group, out int rank));
        Check(op, ncclCommCount(group, out int size));
        return new NcclCommunicator(group, rank, size, _device, _stream, _backend, Timeout);
    }

    /// <summary>Destroys the NCCL communicator (aborts it after a failure: its pending work never finishes).</summary>
    public void Dispose()
    {
        if (_comm == 0)
            return;
        if (_failure is null)
            ncclCommDestroy(_comm);
        else
            ncclCommAbort(_comm);
        _comm = 0;
    }

    private void PointToPoint(bool receive, Tensor tensor, int peer)
    {
        string op = receive ? "receive" : "send";
        Begin(op);
        CommChecks.Tensor(op, "tensor", tensor, _device);
        CommChecks.Peer(op, "peer", peer, Size);
        void* p = (void*)tensor.DataPointer;
        nuint n = NcclNative.Count(tensor, tensor.Numel);
        int type = DataType(tensor.DType);
        Check(op, receive ? ncclRecv(p, n, type, peer, _comm, _stream) : ncclSend(p, n, type, peer, _comm, _stream));
        new Request(this, op).Wait();
    }

    private static int Op(ReduceKind kind) => kind == ReduceKind.Avg ? Avg : NcclNative.Sum;

    /// <summary>Refuses calls on a closed or failed communicator and makes the backend's context current.</summary>
    private void Begin(string op)
    {
        ObjectDisposedException.ThrowIf(_comm == 0, this);
        CommChecks.NotFailed(op, Rank, _failure);
        if (_backend is not null)
            CudaHandles.Bind(_backend);
    }

    private void Check(string op, int result)
    {
        if (result is not (Success or InProgress))
            throw Fail($"{op} failed on rank {Rank} of {Size}: {ErrorText(result)}");
    }

    private static void CheckSetup(string call, int result)
    {
        if (result != Success)
            throw new CommunicatorException($"nccl: {call} failed: {ErrorText(result)}");
    }

    private static string ErrorText(int result) => Marshal.PtrToStringUTF8((nint)ncclGetErrorString(result)) ?? $"NCCL error {result}";

    /// <summary>Aborts the NCCL communicator (its enqueued work then ends) and records the failure.</summary>
    private CommunicatorException Fail(string what)
    {
        _failure = what;
        ncclCommAbort(_comm);
        return new CommunicatorException(what);
    }

    /// <summary>Work enqueued on the stream: done when the stream is idle; an NCCL async error or the timeout fails it.</summary>
    private sealed class Request(NcclCommunicator owner, string op) : ICommRequest
    {
        public void Wait() => CommPoll.Until(Done, owner.Timeout,
            () => owner.Fail(CommPoll.TimedOut(op, owner, "the other ranks of this group")));

        private bool Done()
        {
            int state = cuStreamQuery(owner._stream);
            if (state == 0)
                return true;
            if (state != CudaNotReady)
                throw owner.Fail($"{op} on rank {owner.Rank}: the CUDA stream reports error {state}");
            if (ncclCommGetAsyncError(owner._comm, out int error) == Success && error is not (Success or InProgress))
                throw owner.Fail($"{op} failed on rank {owner.Rank} of {owner.Size}: {ErrorText(error)}");
            return false;
        }
    }
}
