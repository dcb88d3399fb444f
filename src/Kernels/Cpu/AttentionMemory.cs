namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// The memory the attention kernels hold beyond their arguments (mask bounds, D, tiles, dq partials),
/// counted as it is allocated and freed, so that `bench attention` can state the kernel's own peak
/// exactly rather than infer it from the process's resident set.
/// </summary>
public static unsafe class AttentionMemory
{
    private static long _live;
    private static long _peak;

    /// <summary>The most bytes held at once since the last <see cref="ResetPeak"/>.</summary>
    public static long PeakBytes => Volatile.Read(ref _peak);

    /// <summary>Starts a new peak from the bytes held now (before the call to measure).</summary>
    public static void ResetPeak() => Volatile.Write(ref _peak, Volatile.Read(ref _live));

    /// <summary>bytes, 64-byte aligned (a cache line, a zmm register), zeroed; from the host's caching allocator, as tensors are.</summary>
    internal static void* Alloc(long bytes)
    {
        void* p = (void*)HostAllocator.Shared.Rent(bytes, zero: true);
        Count(bytes);
        return p;
    }

    internal static void Free(void* p, long bytes)
    {
        HostAllocator.Shared.Return((nint)p, bytes);
        Count(-bytes);
    }

    /// <summary>Adds bytes (negative: frees them) to what the kernels hold, for memory they allocate themselves.</summary>
    internal static void Count(long bytes)
    {
        long live = Interlocked.Add(ref _live, bytes);
        for (long peak = Volatile.Read(ref _peak); live > peak; peak = Volatile.Read(ref _peak))
            if (Interlocked.CompareExchange(ref _peak, live, peak) == peak)
                break;
    }
}
