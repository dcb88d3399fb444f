using System.Collections.Concurrent;
using RawLongLoRA.Distributed;

namespace RawLongLoRA.Tests;

/// <summary>
/// Ranks as threads of this process, for tests of what runs on a communicator without starting mpirun: each thread
/// gets its own <see cref="ICommunicator"/> on host tensors; collectives meet at a barrier and read each other's
/// tensors directly. <see cref="Run"/> rethrows the first rank's failure, and the other ranks stop at their next call.
/// </summary>
internal sealed class ThreadGroup : ICommunicator
{
    private readonly Hub _hub;

    private ThreadGroup(Hub hub, int rank)
    {
        _hub = hub;
        Rank = rank;
    }

    public int Rank { get; }

    public int Size => _hub.Size;

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Runs <paramref name="body"/> on <paramref name="size"/> ranks at once; throws the first rank's exception.</summary>
    public static void Run(int size, Action<ICommunicator> body)
    {
        using var cancel = new CancellationTokenSource();
        var hub = new Hub(size, cancel.Token);
        var errors = new ConcurrentQueue<(int Rank, Exception Error)>();
        var threads = Enumerable.Range(0, size).Select(rank => new Thread(() =>
        {
            try
            {
                body(new ThreadGroup(hub, rank));
            }
            catch (Exception e)
            {
                errors.Enqueue((rank, e));
                cancel.Cancel();
            }
        }, 16 << 20)).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        // The first failure is the cause; the others are ranks stopped because of it.
        var first = errors.FirstOrDefault(e => e.Error is not OperationCanceledException);
        if (first.Error is not null)
            throw new AggregateException($"rank {first.Rank} of {size} failed: {first.Error.Message}", first.Error);
    }

    public void AllReduce(Tensor tensor, ReduceKind kind = ReduceKind.Sum)
    {
        CommChecks.Tensor("all_reduce", "tensor", tensor, Device.Cpu);
        CommChecks.Reducible("all_reduce", tensor, CommChecks.HostReducible);
        var sum = Collect(tensor, (slots, _) => Sum(slots.Cast<Tensor>(), 0, tensor.Numel, kind));
        Write(tensor, 0, sum);
    }

    // Threads run backward in step, so the reduction can happen now.
    public ICommRequest StartAllReduce(Tensor tensor, ReduceKind kind = ReduceKind.Sum)
    {
        AllReduce(tensor, kind);
        return new Pending(() => { });
    }

    public void AllGather(Tensor dst, Tensor src)
    {
        CommChecks.Gather("all_gather", dst, "dst", src, "src", Device.Cpu, Size);
        Exchange(src, slots =>
        {
            long n = src.Numel;
            for (int r = 0; r < Size; r++)
                Write(dst, r * n, Read((Tensor)slots[r]!, 0, n));
        });
    }

    public void ReduceScatter(Tensor dst, Tensor src, ReduceKind kind = ReduceKind.Sum)
    {
        CommChecks.Gather("reduce_scatter", src, "src", dst, "dst", Device.Cpu, Size);
        CommChecks.Reducible("reduce_scatter", src, CommChecks.HostReducible);
        long n = dst.Numel;
        var part = Collect(src, (slots, _) => Sum(slots.Cast<Tensor>(), Rank * n, n, kind));
        Write(dst, 0, part);
    }

    public void AllToAll(Tensor dst, ReadOnlySpan<int> receiveCounts, Tensor src, ReadOnlySpan<int> sendCounts)
    {
        CommChecks.AllToAll(dst, receiveCounts, src, sendCounts, Device.Cpu, Size);
        var receive = receiveCounts.ToArray();
        Exchange((src, sendCounts.ToArray()), slots =>
        {
            long at = 0;
            for (int j = 0; j < Size; j++)
            {
                var (theirs, counts) = ((Tensor, int[]))slots[j]!;
                if (counts[Rank] != receive[j])
                    throw new CommunicatorException($"all_to_all: rank {j} sends {counts[Rank]} elements to rank {Rank}, which expects {receive[j]}");
                Write(dst, at, Read(theirs, counts.Take(Rank).Sum(c => (long)c), counts[Rank]));
                at += receive[j];
            }
        });
    }

    public void Send(Tensor tensor, int peer, int tag = 0)
    {
        CommChecks.Tensor("send", "tensor", tensor, Device.Cpu);
        CommChecks.Peer("send", "peer", peer, Size);
        CommChecks.Tag("send", tag);
        _hub.Mailbox(Rank, peer, tag).Add(Read(tensor, 0, tensor.Numel));
    }

    public void Receive(Tensor tensor, int peer, int tag = 0)
    {
        CommChecks.Tensor("receive", "tensor", tensor, Device.Cpu);
        CommChecks.Peer("receive", "peer", peer, Size);
        CommChecks.Tag("receive", tag);
        if (!_hub.Mailbox(peer, Rank, tag).TryTake(out var data, (int)Timeout.TotalMilliseconds, _hub.Cancel))
            throw new CommunicatorException($"receive: rank {peer} sent nothing with tag {tag} to rank {Rank} within {Timeout.TotalSeconds} s");
        if (data.Length != tensor.Numel)
            throw new CommunicatorException($"receive: rank {peer} sent {data.Length} elements; rank {Rank} expects {tensor.Numel}");
        Write(tensor, 0, data);
    }

    public ICommRequest StartSendReceive(Tensor send, int to, Tensor receive, int from, int tag = 0)
    {
        Send(send, to, tag);
        return new Pending(() => Receive(receive, from, tag));
    }

    public void Broadcast(Tensor tensor, int root)
    {
        CommChecks.Tensor("broadcast", "tensor", tensor, Device.Cpu);
        CommChecks.Peer("broadcast", "root", root, Size);
        Exchange(tensor, slots =>
        {
            if (Rank != root)
                Write(tensor, 0, Read((Tensor)slots[root]!, 0, tensor.Numel));
        });
    }

    public void Barrier() => _hub.Meet(Timeout);

    public ICommunicator Split(int color, int key)
    {
        CommChecks.Color(color);
        ThreadGroup? made = null;
        Exchange((color, key), slots =>
        {
            var members = Enumerable.Range(0, Size).Where(r => (((int, int))slots[r]!).Item1 == color)
                                    .OrderBy(r => (((int, int))slots[r]!).Item2).ThenBy(r => r).ToList();
            var hub = _hub.Child((_hub.Splits, color), members.Count);
            made = new ThreadGroup(hub, members.IndexOf(Rank)) { Timeout = Timeout };
        });
        _hub.Splits++;
        return made!;
    }

    public void Dispose()
    {
    }

    /// <summary>Posts this rank's value, runs <paramref name="read"/> once every rank has posted, and waits for all to finish reading.</summary>
    private void Exchange(object value, Action<object?[]> read)
    {
        _hub.Slots[Rank] = value;
        _hub.Meet(Timeout);
        read(_hub.Slots);
        _hub.Meet(Timeout);
    }

    private double[] Collect(Tensor tensor, Func<object?[], int, double[]> reduce)
    {
        double[] result = [];
        Exchange(tensor, slots => result = reduce(slots, Rank));
        return result;
    }

    private double[] Sum(IEnumerable<Tensor> tensors, long start, long count, ReduceKind kind)
    {
        var sum = new double[count];
        foreach (var t in tensors)
        {
            var values = Read(t, start, count);
            for (long i = 0; i < count; i++)
                sum[i] += values[i];
        }
        if (kind == ReduceKind.Avg)
            for (long i = 0; i < count; i++)
                sum[i] /= Size;
        return sum;
    }

    // Values travel as doubles: exact for F32, I32 and the I64 counts tests move.
    private static double[] Read(Tensor t, long start, long count)
    {
        if (!t.Device.IsCpu || !t.IsContiguous)
            throw new ArgumentException("thread group: tensors must be contiguous host tensors");
        var result = new double[count];
        for (long i = 0; i < count; i++)
            // The first arm's double makes the switch's type double (else float, which rounds I64 past 2^24).
            result[i] = t.DType switch
            {
                DType.F32 => (double)t.AsSpan<float>()[(int)(start + i)],
                DType.I32 => t.AsSpan<int>()[(int)(start + i)],
                DType.I64 => t.AsSpan<long>()[(int)(start + i)],
                DType.BF16 or DType.F16 => t.AsSpan<ushort>()[(int)(start + i)],
                _ => t.AsSpan<byte>()[(int)(start + i)],
            };
        return result;
    }

    private static void Write(Tensor t, long start, double[] values)
    {
        for (long i = 0; i < values.Length; i++)
        {
            int at = (int)(start + i);
            switch (t.DType)
            {
                case DType.F32: t.AsSpan<float>()[at] = (float)values[i]; break;
                case DType.I32: t.AsSpan<int>()[at] = (int)values[i]; break;
                case DType.I64: t.AsSpan<long>()[at] = (long)values[i]; break;
                case DType.BF16 or DType.F16: t.AsSpan<ushort>()[at] = (ushort)values[i]; break;
                default: t.AsSpan<byte>()[at] = (byte)values[i]; break;
            }
        }
    }

    private sealed class Pending(Action wait) : ICommRequest
    {
        public void Wait() => wait();
    }

    private sealed class Hub(int size, CancellationToken cancel)
    {
        private readonly Barrier _barrier = new(size);
        private readonly ConcurrentDictionary<(int, int, int), BlockingCollection<double[]>> _mail = new();
        private readonly ConcurrentDictionary<(int, int), Lazy<Hub>> _children = new();

        public int Size => size;

        public CancellationToken Cancel => cancel;

        public object?[] Slots { get; } = new object?[size];

        /// <summary>Split calls made so far (the same on every rank: Split is collective).</summary>
        public int Splits { get; set; }

        public void Meet(TimeSpan timeout)
        {
            if (!_barrier.SignalAndWait(timeout, cancel))
                throw new CommunicatorException($"barrier: not every rank of {size} arrived within {timeout.TotalSeconds} s");
        }

        public BlockingCollection<double[]> Mailbox(int from, int to, int tag) => _mail.GetOrAdd((from, to, tag), _ => []);

        public Hub Child((int Split, int Color) id, int members) => _children.GetOrAdd(id, _ => new Lazy<Hub>(() => new Hub(members, cancel))).Value;
    }
}
