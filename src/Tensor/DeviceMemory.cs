using System.Collections.Concurrent;

namespace RawLongLoRA;

/// <summary>
/// One device's memory counters: tensor bytes live now and at their peak, bytes its allocator has
/// reserved (in use and cached for reuse), and bytes of memory-mapped files viewed as tensors (a
/// checkpoint's weights), which are the file's pages rather than the device's memory and so are
/// counted apart from live and peak.
/// </summary>
public sealed class DeviceMemory
{
    private static readonly ConcurrentDictionary<Device, DeviceMemory> All = new();

    private long _live;
    private long _count;
    private long _peak;
    private long _reserved;
    private long _mapped;

    private DeviceMemory(Device device) => Device = device;

    /// <summary>The counters of <paramref name="device"/>.</summary>
    public static DeviceMemory Of(Device device) => All.GetOrAdd(device, d => new DeviceMemory(d));

    /// <summary>The counters of every device that has had memory.</summary>
    public static IReadOnlyList<DeviceMemory> Devices => [.. All.Values];

    /// <summary>The device counted.</summary>
    public Device Device { get; }

    /// <summary>Bytes of tensor storage allocated and not yet freed.</summary>
    public long LiveBytes => Interlocked.Read(ref _live);

    /// <summary>Storages allocated and not yet freed (mapped ones included).</summary>
    public long LiveCount => Interlocked.Read(ref _count);

    /// <summary>The most <see cref="LiveBytes"/> at once since the last <see cref="ResetPeak"/>.</summary>
    public long PeakBytes => Interlocked.Read(ref _peak);

    /// <summary>Bytes the device's allocator holds: blocks in use and blocks cached for reuse.</summary>
    public long ReservedBytes => Interlocked.Read(ref _reserved);

    /// <summary>Of <see cref="ReservedBytes"/>, the bytes of freed blocks the allocator keeps for reuse.</summary>
    public long CachedBytes => CachedBlocks?.CachedBytes ?? 0;

    /// <summary>Bytes of memory-mapped files viewed as live tensors: not in <see cref="LiveBytes"/> or <see cref="PeakBytes"/>.</summary>
    public long MappedBytes => Interlocked.Read(ref _mapped);

    /// <summary>Starts a new peak from the bytes live now.</summary>
    public void ResetPeak() => Interlocked.Exchange(ref _peak, LiveBytes);

    /// <summary>
    /// Hands the blocks the device's allocator keeps for reuse back to the system (as torch.cuda.empty_cache does), e.g.
    /// before work of other shapes; returns their bytes. Blocks in use stay.
    /// </summary>
    public long ReleaseCached() => CachedBlocks?.Trim() ?? 0;

    /// <summary>The allocator whose reservation this device reports, once it has made a block.</summary>
    internal IBlockCache? CachedBlocks { get; set; }

    /// <summary>Counts a storage made (positive) or freed (negative bytes and count).</summary>
    internal void Add(long bytes, int count, bool mapped)
    {
        Interlocked.Add(ref _count, count);
        if (mapped)
        {
            Interlocked.Add(ref _mapped, bytes);
            return;
        }
        RaisePeak(ref _peak, Interlocked.Add(ref _live, bytes));
    }

    /// <summary>Counts bytes the allocator took from (positive) or gave back to (negative) the system.</summary>
    internal void AddReserved(long bytes) => Interlocked.Add(ref _reserved, bytes);

    /// <summary>Lifts <paramref name="peak"/> to <paramref name="live"/> if that is higher, without a lock.</summary>
    internal static void RaisePeak(ref long peak, long live)
    {
        for (long p = Interlocked.Read(ref peak); live > p; p = Interlocked.Read(ref peak))
            if (Interlocked.CompareExchange(ref peak, live, p) == p)
                break;
    }
}

/// <summary>A device allocator that keeps freed blocks for reuse: <see cref="DeviceMemory.ReleaseCached"/> empties it.</summary>
internal interface IBlockCache
{
    /// <summary>Bytes of the blocks kept for reuse.</summary>
    long CachedBytes { get; }

    /// <summary>Hands every cached block back to the system; returns their bytes.</summary>
    long Trim();
}
