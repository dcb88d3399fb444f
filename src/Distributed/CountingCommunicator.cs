namespace RawLongLoRA.Distributed;

/// <summary>
/// A communicator that forwards every call to another and counts, per kind of call, the calls and the bytes this
/// rank sends and receives — so a benchmark prints the bytes a step moved beside the planner's formula
/// (src/Training/Planning/StepTraffic.cs). Collectives are counted as the algorithms those formulas assume move
/// them: all-reduce as a ring (2(N − 1)/N of the tensor out and in), all-gather and reduce-scatter as a ring
/// ((N − 1)/N of the whole), all-to-all and broadcast as direct transfers (a rank's own run stays home). Counts are
/// taken when a call starts; a <see cref="Split"/> group counts apart from this one.
/// </summary>
public sealed class CountingCommunicator(ICommunicator inner) : ICommunicator
{
    private readonly Dictionary<CommOp, Traffic> _counts = [];

    /// <summary>The communicator calls go to.</summary>
    public ICommunicator Inner { get; } = inner;

    /// <inheritdoc/>
    public int Rank => Inner.Rank;

    /// <inheritdoc/>
    public int Size => Inner.Size;

    /// <inheritdoc/>
    public TimeSpan Timeout
    {
        get => Inner.Timeout;
        set => Inner.Timeout = value;
    }

    /// <summary>What each kind of call has moved so far (kinds never called are absent).</summary>
    public IReadOnlyDictionary<CommOp, Traffic> Counts
    {
        get
        {
            lock (_counts)
                return new Dictionary<CommOp, Traffic>(_counts);
        }
    }

    /// <summary>All kinds together.</summary>
    public Traffic Total
    {
        get
        {
            lock (_counts)
                return _counts.Values.Aggregate(new Traffic(0, 0, 0), (a, b) => a + b);
        }
    }

    /// <summary>Forgets what has been counted (e.g. after a warm-up step).</summary>
    public void Reset()
    {
        lock (_counts)
            _counts.Clear();
    }

    /// <inheritdoc/>
    public void AllReduce(Tensor tensor, ReduceKind kind = ReduceKind.Sum)
    {
        CountRing(CommOp.AllReduce, 2 * Bytes(tensor));
        Inner.AllReduce(tensor, kind);
    }

    /// <inheritdoc/>
    public ICommRequest StartAllReduce(Tensor tensor, ReduceKind kind = ReduceKind.Sum)
    {
        CountRing(CommOp.StartAllReduce, 2 * Bytes(tensor));
        return Inner.StartAllReduce(tensor, kind);
    }

    /// <inheritdoc/>
    public void AllGather(Tensor dst, Tensor src)
    {
        CountRing(CommOp.AllGather, Bytes(dst));
        Inner.AllGather(dst, src);
    }

    /// <inheritdoc/>
    public void ReduceScatter(Tensor dst, Tensor src, ReduceKind kind = ReduceKind.Sum)
    {
        CountRing(CommOp.ReduceScatter, Bytes(src));
        Inner.ReduceScatter(dst, src, kind);
    }

    /// <inheritdoc/>
    public void AllToAll(Tensor dst, ReadOnlySpan<int> receiveCounts, Tensor src, ReadOnlySpan<int> sendCounts)
    {
        long sent = 0, received = 0;
        for (int r = 0; r < sendCounts.Length; r++)
            sent += r == Rank ? 0 : sendCounts[r];
        for (int r = 0; r < receiveCounts.Length; r++)
            received += r == Rank ? 0 : receiveCounts[r];
        Count(CommOp.AllToAll, sent * src.DType.Size(), received * dst.DType.Size());
        Inner.AllToAll(dst, receiveCounts, src, sendCounts);
    }

    /// <inheritdoc/>
    public void Send(Tensor tensor, int peer, int tag = 0)
    {
        Count(CommOp.Send, Bytes(tensor), 0);
        Inner.Send(tensor, peer, tag);
    }

    /// <inheritdoc/>
    public void Receive(Tensor tensor, int peer, int tag = 0)
    {
        Count(CommOp.Receive, 0, Bytes(tensor));
        Inner.Receive(tensor, peer, tag);
    }

    /// <inheritdoc/>
    public ICommRequest StartSendReceive(Tensor send, int to, Tensor receive, int from, int tag = 0)
    {
        Count(CommOp.SendReceive, to == Rank ? 0 : Bytes(send), from == Rank ? 0 : Bytes(receive));
        return Inner.StartSendReceive(send, to, receive, from, tag);
    }

    /// <inheritdoc/>
    public void Broadcast(Tensor tensor, int root)
    {
        Count(CommOp.Broadcast, Rank == root ? (Size - 1) * Bytes(tensor) : 0, Rank == root ? 0 : Bytes(tensor));
        Inner.Broadcast(tensor, root);
    }

    /// <inheritdoc/>
    public void Barrier()
    {
        Count(CommOp.Barrier, 0, 0);
        Inner.Barrier();
    }

    /// <summary>The sub-group, counted by a <see cref="CountingCommunicator"/> of its own.</summary>
    public ICommunicator Split(int color, int key) => new CountingCommunicator(Inner.Split(color, key));

    /// <summary>Disposes the inner communicator.</summary>
    public void Dispose() => Inner.Dispose();

    private static long Bytes(Tensor t) => t.Numel * t.DType.Size();

    /// <summary>A ring collective over <paramref name="bytes"/> moves (N − 1)/N of them out of each rank and as many in.</summary>
    private void CountRing(CommOp op, long bytes)
    {
        long moved = bytes * (Size - 1) / Size;
        Count(op, moved, moved);
    }

    private void Count(CommOp op, long sent, long received)
    {
        lock (_counts)
            _counts[op] = _counts.GetValueOrDefault(op, new Traffic(0, 0, 0)) + new Traffic(1, sent, received);
    }
}

/// <summary>The kinds of call a <see cref="CountingCommunicator"/> counts apart.</summary>
public enum CommOp : byte
{
    /// <summary><see cref="ICommunicator.AllReduce"/>: a step's loss and token count, for one.</summary>
    AllReduce,

    /// <summary>
    /// <see cref="ICommunicator.StartAllReduce"/>, counted apart from the blocking kind: data parallelism's gradient
    /// buckets start theirs this way, so a step's gradient traffic is this count alone.
    /// </summary>
    StartAllReduce,

    /// <summary><see cref="ICommunicator.AllGather"/>.</summary>
    AllGather,

    /// <summary><see cref="ICommunicator.ReduceScatter"/>.</summary>
    ReduceScatter,

    /// <summary><see cref="ICommunicator.AllToAll"/>.</summary>
    AllToAll,

    /// <summary><see cref="ICommunicator.Send"/>.</summary>
    Send,

    /// <summary><see cref="ICommunicator.Receive"/>.</summary>
    Receive,

    /// <summary><see cref="ICommunicator.StartSendReceive"/>: the ring step.</summary>
    SendReceive,

    /// <summary><see cref="ICommunicator.Broadcast"/>.</summary>
    Broadcast,

    /// <summary><see cref="ICommunicator.Barrier"/>.</summary>
    Barrier,
}

/// <summary>Calls made and bytes this rank sent and received.</summary>
/// <param name="Calls">Calls counted.</param>
/// <param name="SentBytes">Bytes that left this rank.</param>
/// <param name="ReceivedBytes">Bytes that reached this rank.</param>
public readonly record struct Traffic(long Calls, long SentBytes, long ReceivedBytes)
{
    /// <summary>Both counts added.</summary>
    public static Traffic operator +(Traffic a, Traffic b) => new(a.Calls + b.Calls, a.SentBytes + b.SentBytes, a.ReceivedBytes + b.ReceivedBytes);
}
