namespace RawLongLoRA.Distributed;

/// <summary>
/// A group of processes (ranks) that move tensors between them: MPI for host tensors, NCCL for device tensors.
/// Every rank of the group must make the same collective calls in the same order. Tensors are contiguous and on
/// the communicator's device; counts are in elements. A call that a peer does not answer within
/// <see cref="Timeout"/> throws <see cref="CommunicatorException"/> instead of hanging.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's index in the group, 0 … <see cref="Size"/> − 1.</summary>
    int Rank { get; }

    /// <summary>Processes in the group.</summary>
    int Size { get; }

    /// <summary>How long a call waits for its peers before it gives up with <see cref="CommunicatorException"/>.</summary>
    TimeSpan Timeout { get; set; }

    /// <summary>In place: every rank's <paramref name="tensor"/> becomes the sum (or mean) over the ranks (F32, I32, I64).</summary>
    void AllReduce(Tensor tensor, ReduceKind kind = ReduceKind.Sum);

    /// <summary>
    /// Starts <see cref="AllReduce"/> and returns at once where the communicator can overlap it with compute (data
    /// parallel issues a gradient bucket this way as soon as backward has finished it); the tensor may not be touched
    /// until the request's <see cref="ICommRequest.Wait"/> returns.
    /// </summary>
    ICommRequest StartAllReduce(Tensor tensor, ReduceKind kind = ReduceKind.Sum);

    /// <summary><paramref name="dst"/> [Size · n] = every rank's <paramref name="src"/> [n], in rank order (any dtype).</summary>
    void AllGather(Tensor dst, Tensor src);

    /// <summary>
    /// <paramref name="dst"/> [n] = this rank's n-element slice of the sum (or mean) over the ranks of
    /// <paramref name="src"/> [Size · n].
    /// </summary>
    void ReduceScatter(Tensor dst, Tensor src, ReduceKind kind = ReduceKind.Sum);

    /// <summary>
    /// Every rank sends the i-th run of <paramref name="src"/> (<paramref name="sendCounts"/>[i] elements, the runs
    /// back to back) to rank i and receives rank j's run for it into the j-th run of <paramref name="dst"/>
    /// (<paramref name="receiveCounts"/>[j] elements); counts may differ by rank.
    /// </summary>
    void AllToAll(Tensor dst, ReadOnlySpan<int> receiveCounts, Tensor src, ReadOnlySpan<int> sendCounts);

    /// <summary>Sends <paramref name="tensor"/> to <paramref name="peer"/>, which receives it with the same tag.</summary>
    void Send(Tensor tensor, int peer, int tag = 0);

    /// <summary>Receives into <paramref name="tensor"/> what <paramref name="peer"/> sent with the same tag.</summary>
    void Receive(Tensor tensor, int peer, int tag = 0);

    /// <summary>
    /// Starts sending <paramref name="send"/> to <paramref name="to"/> and receiving into <paramref name="receive"/> from
    /// <paramref name="from"/> (same tag), and returns at once: the ring step of Ring attention. Neither tensor may be
    /// touched until the request's <see cref="ICommRequest.Wait"/> returns.
    /// </summary>
    ICommRequest StartSendReceive(Tensor send, int to, Tensor receive, int from, int tag = 0);

    /// <summary>Every rank's <paramref name="tensor"/> becomes <paramref name="root"/>'s.</summary>
    void Broadcast(Tensor tensor, int root);

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();

    /// <summary>
    /// A sub-group of the ranks that pass the same <paramref name="color"/>, ordered by <paramref name="key"/> (then by
    /// rank): the data-parallel and sequence-parallel groups of a DP × SP grid. Every rank of this group must call it.
    /// </summary>
    ICommunicator Split(int color, int key);
}

/// <summary>How a reduction combines the ranks' values.</summary>
public enum ReduceKind : byte
{
    /// <summary>The sum over the ranks.</summary>
    Sum,

    /// <summary>The sum divided by the number of ranks.</summary>
    Avg,
}

/// <summary>A transfer started by <see cref="ICommunicator.StartSendReceive"/>.</summary>
public interface ICommRequest
{
    /// <summary>Returns once both the send and the receive are done (or throws as the communicator's calls do).</summary>
    void Wait();
}

/// <summary>A collective or transfer that failed: a peer that died, raised, or did not answer within the timeout.</summary>
public sealed class CommunicatorException(string message, Exception? inner = null) : Exception(message, inner);
