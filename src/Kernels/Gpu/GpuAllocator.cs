using ILGPU;
using ILGPU.Runtime;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// The GPU's caching allocator, as PyTorch's: a device allocation costs a driver call and a synchronisation, and a
/// training step frees and makes the same tensors again, so freed blocks stay here by size class — 512-byte steps up
/// to 1 MiB, 2 MiB steps above — and the next request of their class takes one back. Every kernel runs on the
/// backend's one stream, so a block freed on the host while kernels that use it are still queued is safe to hand out
/// at once: whatever the next user queues runs after them (stream order). When the device is full the cache is
/// emptied and the request tried once more before <see cref="GpuOutOfMemoryException"/>.
/// </summary>
internal sealed class GpuAllocator : IBlockCache
{
    private const long SmallLimit = 1L << 20, SmallStep = 512, LargeStep = 2L << 20;

    private readonly Accelerator _accelerator;
    private readonly DeviceMemory _account;
    private readonly Lock _gate = new();
    private readonly Dictionary<long, Stack<MemoryBuffer1D<byte, Stride1D.Dense>>> _cached = [];
    private long _cachedBytes;

    public GpuAllocator(Accelerator accelerator, DeviceMemory account, long limitBytes)
    {
        _accelerator = accelerator;
        _account = account;
        LimitBytes = limitBytes;
        account.CachedBlocks = this;
    }

    /// <summary>The reservation this allocator will not exceed (the device's memory, or less when a user caps it).</summary>
    public long LimitBytes { get; }

    /// <summary>Bytes of every block obtained and not given back: in use and cached.</summary>
    public long ReservedBytes => _account.ReservedBytes;

    /// <summary>Bytes of the blocks freed and kept for reuse.</summary>
    public long CachedBytes => Interlocked.Read(ref _cachedBytes);

    /// <summary>The block size a request of <paramref name="bytes"/> gets.</summary>
    public static long SizeClass(long bytes) => bytes <= SmallLimit
        ? Math.Max(SmallStep, (bytes + SmallStep - 1) / SmallStep * SmallStep)
        : (bytes + LargeStep - 1) / LargeStep * LargeStep;

    /// <summary>A block of at least <paramref name="bytes"/>: a cached one of its class, else a new one.</summary>
    public MemoryBuffer1D<byte, Stride1D.Dense> Rent(long bytes)
    {
        long size = SizeClass(bytes);
        lock (_gate)
        {
            if (_cached.TryGetValue(size, out var free) && free.Count > 0)
            {
                _cachedBytes -= size;
                return free.Pop();
            }
        }
        return TryAllocate(size) ?? Retry(bytes, size);
    }

    /// <summary>Takes a block back for reuse.</summary>
    public void Return(MemoryBuffer1D<byte, Stride1D.Dense> block)
    {
        long size = block.Length;
        lock (_gate)
        {
            if (!_cached.TryGetValue(size, out var free))
                _cached[size] = free = new Stack<MemoryBuffer1D<byte, Stride1D.Dense>>();
            free.Push(block);
            _cachedBytes += size;
        }
    }

    /// <summary>Disposes every cached block (after the queued work is done with them); returns their bytes.</summary>
    public long Trim()
    {
        List<MemoryBuffer1D<byte, Stride1D.Dense>> blocks = [];
        lock (_gate)
        {
            foreach (var free in _cached.Values)
                blocks.AddRange(free);
            _cached.Clear();
            _cachedBytes = 0;
        }
        if (blocks.Count == 0)
            return 0;
        _accelerator.Synchronize();
        long bytes = 0;
        foreach (var b in blocks)
        {
            bytes += b.Length;
            b.Dispose();
        }
        _account.AddReserved(-bytes);
        return bytes;
    }

    private MemoryBuffer1D<byte, Stride1D.Dense>? TryAllocate(long size)
    {
        if (ReservedBytes + size > LimitBytes)
            return null;
        try
        {
            var block = _accelerator.Allocate1D<byte>(size);
            _account.AddReserved(size);
            return block;
        }
        catch (Exception e) when (e is OutOfMemoryException or AcceleratorException)
        {
            return null;
        }
    }

    private MemoryBuffer1D<byte, Stride1D.Dense> Retry(long bytes, long size)
    {
        long trimmed = Trim();
        if (trimmed > 0 && TryAllocate(size) is { } block)
            return block;
        var mib = (long b) => $"{b / 1048576.0:0.0} MiB";
        throw new GpuOutOfMemoryException(
            $"{_account.Device}: out of memory allocating {mib(bytes)} (block {mib(size)}) for {IlgpuBackend.LastOp ?? "a tensor made before any op ran"}: " +
            $"{mib(_account.LiveBytes)} live in tensors, {mib(ReservedBytes)} reserved by the allocator " +
            $"(after giving back {mib(trimmed)} of cached blocks), peak {mib(_account.PeakBytes)}, limit {mib(LimitBytes)}");
    }
}
