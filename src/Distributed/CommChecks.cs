namespace RawLongLoRA.Distributed;

/// <summary>
/// The argument checks every communicator makes before it moves anything, so that MPI, NCCL and the tests' in-process
/// ranks refuse the same bad input with the same message: the op, what is wrong, and what was expected.
/// </summary>
internal static class CommChecks
{
    /// <summary>The dtypes MPI reduces; any dtype moves as bytes.</summary>
    public static readonly DType[] HostReducible = [DType.F32, DType.I32, DType.I64];

    /// <summary>A communicator whose call failed (<paramref name="failure"/>) refuses the next ones: its ranks are out of step.</summary>
    public static void NotFailed(string op, int rank, string? failure)
    {
        if (failure is not null)
            throw new CommunicatorException($"{op} on rank {rank}: this communicator failed earlier ({failure}); its ranks are out of step");
    }

    /// <summary><paramref name="t"/> is alive, contiguous, on <paramref name="device"/>, and counts fit MPI's and NCCL's int.</summary>
    public static void Tensor(string op, string name, Tensor t, Device device)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        t.ThrowIfDisposed();
        if (t.Device != device)
            throw new ArgumentException($"{op}: {name} is on {t.Device}; this communicator moves tensors on {device}", name);
        if (!t.IsContiguous)
            throw new ArgumentException($"{op}: {name} [{string.Join(", ", t.ShapeArray)}] is not contiguous; pass a contiguous tensor (.Contiguous())", name);
        if (t.Numel > int.MaxValue)
            throw new ArgumentException($"{op}: {name} has {t.Numel} elements, more than a call moves ({int.MaxValue}); split it", name);
    }

    /// <summary><paramref name="t"/>'s dtype is one this communicator reduces.</summary>
    public static void Reducible(string op, Tensor t, IReadOnlyCollection<DType> reducible)
    {
        if (!reducible.Contains(t.DType))
            throw new ArgumentException($"{op}: cannot reduce {t.DType}; this communicator reduces {string.Join(", ", reducible)}");
    }

    /// <summary>Both tensors have one dtype.</summary>
    public static void SameDType(string op, Tensor dst, Tensor src)
    {
        if (dst.DType != src.DType)
            throw new ArgumentException($"{op}: dst is {dst.DType} and src is {src.DType}; they must match");
    }

    /// <summary><paramref name="big"/> holds <paramref name="size"/> times the elements of <paramref name="part"/>.</summary>
    public static void Parts(string op, string bigName, Tensor big, string partName, Tensor part, int size)
    {
        if (big.Numel != (long)size * part.Numel)
            throw new ArgumentException($"{op}: {bigName} has {big.Numel} elements; expected {size} ranks × {part.Numel} ({partName}) = {(long)size * part.Numel}");
    }

    /// <summary><paramref name="peer"/> is a rank of a group of <paramref name="size"/>.</summary>
    public static void Peer(string op, string name, int peer, int size)
    {
        if (peer < 0 || peer >= size)
            throw new ArgumentOutOfRangeException(name, $"{op}: {name} {peer} is not a rank of this group (0 … {size - 1})");
    }

    /// <summary>A colour of <see cref="ICommunicator.Split"/> (MPI reserves the negative ones).</summary>
    public static void Color(int color)
    {
        if (color < 0)
            throw new ArgumentOutOfRangeException(nameof(color), $"split: color {color} is negative; colours are 0 or more");
    }

    /// <summary>A message tag every MPI accepts (0 … 32767; MPI_TAG_UB is at least that).</summary>
    public static void Tag(string op, int tag)
    {
        if (tag is < 0 or > 32767)
            throw new ArgumentOutOfRangeException(nameof(tag), $"{op}: tag {tag} is outside 0 … 32767");
    }

    /// <summary>One non-negative count per rank, adding up to <paramref name="t"/>'s elements.</summary>
    public static void Counts(string op, string name, ReadOnlySpan<int> counts, Tensor t, string tensorName, int size)
    {
        if (counts.Length != size)
            throw new ArgumentException($"{op}: {name} has {counts.Length} entries; expected one per rank ({size})", name);
        long sum = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            if (counts[i] < 0)
                throw new ArgumentException($"{op}: {name}[{i}] is {counts[i]}; counts cannot be negative", name);
            sum += counts[i];
        }
        if (sum != t.Numel)
            throw new ArgumentException($"{op}: {name} add up to {sum} elements but {tensorName} has {t.Numel}; they must match", name);
    }

    /// <summary>The checks of <see cref="ICommunicator.AllToAll"/>.</summary>
    public static void AllToAll(Tensor dst, ReadOnlySpan<int> receiveCounts, Tensor src, ReadOnlySpan<int> sendCounts, Device device, int size)
    {
        const string op = "all_to_all";
        Tensor(op, "dst", dst, device);
        Tensor(op, "src", src, device);
        SameDType(op, dst, src);
        Counts(op, "sendCounts", sendCounts, src, "src", size);
        Counts(op, "receiveCounts", receiveCounts, dst, "dst", size);
    }

    /// <summary>The checks of <see cref="ICommunicator.AllGather"/> and <see cref="ICommunicator.ReduceScatter"/>.</summary>
    public static void Gather(string op, Tensor whole, string wholeName, Tensor part, string partName, Device device, int size)
    {
        Tensor(op, wholeName, whole, device);
        Tensor(op, partName, part, device);
        SameDType(op, whole, part);
        Parts(op, wholeName, whole, partName, part, size);
    }
}
