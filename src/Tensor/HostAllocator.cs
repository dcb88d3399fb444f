using System.Numerics;
using System.Runtime.InteropServices;

namespace RawLongLoRA;

/// <summary>
/// The host's caching allocator. A training step frees and allocates the same tensors again step after
/// step; handing their blocks back to the C library made the kernel fault every page of them in again
/// (1.27 M faults in 3 steps of cpu-small at T = 2048, a third of the CPU time). So freed blocks stay
/// here, in size classes of a quarter power of two (at most 25% over the request), and the next request
/// of that class takes one back. Memory returns to the C library only on <see cref="Trim"/>, or under
/// pressure: when a new block would take the reservation past <see cref="PressureBytes"/>, or the C
/// library has no more memory, the cached blocks go first. Every block is 64-byte aligned.
/// </summary>
internal sealed unsafe class HostAllocator : IBlockCache
{
    private const long SmallestClass = HostMemory.Alignment;

    private readonly Lock _gate = new();
    private readonly Dictionary<long, Stack<nint>> _cached = [];
    private readonly DeviceMemory? _account;
    private long _reserved;
    private long _cachedBytes;

    /// <summary>
    /// An allocator that trims its cache before reserving past <paramref name="pressureBytes"/>, and reports its
    /// reservation to <paramref name="account"/> when given.
    /// </summary>
    public HostAllocator(long pressureBytes, DeviceMemory? account = null)
    {
        PressureBytes = pressureBytes;
        _account = account;
        if (account is not null)
            account.CachedBlocks = this;
    }

    /// <summary>The process's allocator for CPU tensors: pressure at 80% of the memory the runtime may use (RAM or the container's limit).</summary>
    public static HostAllocator Shared { get; } = new((long)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes * 0.8), DeviceMemory.Of(Device.Cpu));

    /// <summary>The reservation past which a new block first trims the cache.</summary>
    public long PressureBytes { get; }

    /// <summary>Bytes of every block obtained and not trimmed: in use and cached.</summary>
    public long ReservedBytes => Interlocked.Read(ref _reserved);

    /// <summary>Bytes of the blocks freed and kept for reuse.</summary>
    public long CachedBytes => Interlocked.Read(ref _cachedBytes);

    /// <summary>The size of the block a request of <paramref name="bytes"/> gets: 64 bytes at least, else rounded up to the next of four classes per power of two (2ᵏ · 1¼, 1½, 1¾, 2).</summary>
    public static long SizeClass(long bytes)
    {
        if (bytes <= SmallestClass)
            return SmallestClass;
        long step = (long)BitOperations.RoundUpToPowerOf2((ulong)bytes) / 8;
        return (bytes + step - 1) / step * step;
    }

    /// <summary>A 64-byte aligned block for <paramref name="bytes"/> bytes: zeroed when <paramref name="zero"/>, else as its last user left it.</summary>
    public nint Rent(long bytes, bool zero)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        long size = SizeClass(bytes);
        nint block = 0;
        bool trim = false;
        lock (_gate)
        {
            if (_cached.TryGetValue(size, out var free) && free.TryPop(out block))
                _cachedBytes -= size;
            else
                trim = _reserved + size > PressureBytes && _cachedBytes > 0;
        }
        if (block == 0)
            block = NewBlock(size, trim);
        if (zero)
            NativeMemory.Clear((void*)block, (nuint)bytes);
        return block;
    }

    /// <summary>Takes back a block of <see cref="Rent"/> for the next request of its class.</summary>
    public void Return(nint block, long bytes)
    {
        long size = SizeClass(bytes);
        lock (_gate)
        {
            if (!_cached.TryGetValue(size, out var free))
                _cached[size] = free = new Stack<nint>();
            free.Push(block);
            _cachedBytes += size;
        }
    }

    /// <summary>Hands every cached block back to the C library; returns their bytes.</summary>
    public long Trim()
    {
        List<nint> blocks = [];
        long bytes;
        lock (_gate)
        {
            foreach (var free in _cached.Values)
                blocks.AddRange(free);
            _cached.Clear();
            bytes = _cachedBytes;
            _cachedBytes = 0;
            Reserve(-bytes);
        }
        foreach (nint b in blocks)
            HostMemory.Free(b);
        return bytes;
    }

    private nint NewBlock(long size, bool trim)
    {
        if (trim)
            Trim();
        nint block = HostMemory.Allocate(size);
        if (block == 0 && Trim() > 0)
            block = HostMemory.Allocate(size);
        if (block == 0)
            throw new OutOfMemoryException($"host memory: no block of {size} bytes left ({ReservedBytes} bytes reserved for tensors)");
        lock (_gate)
            Reserve(size);
        return block;
    }

    private void Reserve(long bytes)
    {
        _reserved += bytes;
        _account?.AddReserved(bytes);
    }
}
