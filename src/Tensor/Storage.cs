using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>
/// A block of memory on one device, shared by every tensor viewing it and freed when the last of
/// them is disposed. Reference counts are explicit: the GC never decides when memory goes.
/// </summary>
public abstract class Storage
{
    private int _refs;
    private static long _liveCount;
    private static long _liveBytes;
    private static long _peakBytes;
    private static long _mappedBytes;

    /// <summary>
    /// Counts <paramref name="byteLength"/> bytes as live on <paramref name="device"/> (for <see cref="LiveBytes"/>,
    /// <see cref="PeakBytes"/> and <see cref="DeviceMemory"/>), or as <see cref="MappedBytes"/> when
    /// <paramref name="mapped"/>: a view of a memory-mapped file, which frees itself (unmaps) rather than through the
    /// device's backend. A subclass allocates the bytes. The count of references starts at 0: the first tensor
    /// over it retains it.
    /// </summary>
    protected Storage(Device device, long byteLength, bool mapped = false)
    {
        Device = device;
        ByteLength = byteLength;
        IsMapped = mapped;
        Interlocked.Increment(ref _liveCount);
        DeviceMemory.Of(device).Add(byteLength, 1, mapped);
        if (mapped)
        {
            Interlocked.Add(ref _mappedBytes, byteLength);
            return;
        }
        DeviceMemory.RaisePeak(ref _peakBytes, Interlocked.Add(ref _liveBytes, byteLength));
        if (Profiler.IsRecording)
            Profiler.OnAllocated(this);
    }

    /// <summary>The device the bytes are on.</summary>
    public Device Device { get; }
    /// <summary>Size in bytes.</summary>
    public long ByteLength { get; }

    /// <summary>True for a view of a memory-mapped file: counted in <see cref="MappedBytes"/>, not in live or peak bytes.</summary>
    public bool IsMapped { get; }

    /// <summary>Host address (CPU) or device address (CUDA) of the first byte.</summary>
    public abstract nint Handle { get; }

    /// <summary>True once the last reference was released and the memory returned.</summary>
    public bool IsFreed { get; private set; }

    /// <summary>Storages allocated and not yet freed, mapped ones included, in this process (for leak tests).</summary>
    public static long LiveCount => Interlocked.Read(ref _liveCount);
    /// <summary>Bytes of storage allocated and not yet freed, in this process, memory-mapped files not included.</summary>
    public static long LiveBytes => Interlocked.Read(ref _liveBytes);

    /// <summary>
    /// The most bytes live at once since the last <see cref="ResetPeak"/>: tensor memory, the figure benches and
    /// metrics.jsonl report. Memory-mapped weights are not in it (<see cref="MappedBytes"/>).
    /// </summary>
    public static long PeakBytes => Interlocked.Read(ref _peakBytes);

    /// <summary>Bytes of memory-mapped files (a checkpoint's weights) viewed by live storages, in this process.</summary>
    public static long MappedBytes => Interlocked.Read(ref _mappedBytes);

    /// <summary>Bytes live on each device that has had a storage, mapped files not included (the profiler's starting point).</summary>
    public static Dictionary<Device, long> LiveBytesByDevice() => DeviceMemory.Devices.ToDictionary(m => m.Device, m => m.LiveBytes);

    /// <summary>Starts a new peak from the bytes live now (e.g. at the start of a training step), here and on every device.</summary>
    public static void ResetPeak()
    {
        Interlocked.Exchange(ref _peakBytes, LiveBytes);
        foreach (var m in DeviceMemory.Devices)
            m.ResetPeak();
    }

    private int _version;

    /// <summary>
    /// In-place writes so far (<see cref="Tensor.CopyFrom"/>, <see cref="Tensor.Fill"/>, optimizer steps), as torch's
    /// version counter: autograd compares it in backward with what it was when an op saved a tensor over this storage.
    /// </summary>
    public int Version => Volatile.Read(ref _version);

    /// <summary>Counts one in-place write into these bytes (see <see cref="Version"/>).</summary>
    public void BumpVersion() => Interlocked.Increment(ref _version);

    /// <summary>How many tensor handles hold this storage now.</summary>
    public int RefCount => Volatile.Read(ref _refs);

    /// <summary>
    /// Adds a reference (each <see cref="Tensor"/> over this storage holds one); throws once the storage is freed.
    /// </summary>
    public void Retain()
    {
        if (IsFreed)
            throw new ObjectDisposedException(nameof(Storage), "storage was already freed");
        Interlocked.Increment(ref _refs);
    }

    /// <summary>
    /// Drops a reference; the last one hands the memory to the device's backend (<see cref="IBackend.Free"/>), which
    /// returns it when the device's queued work is done with it. Throws if released more often than retained.
    /// </summary>
    public void Release()
    {
        int left = Interlocked.Decrement(ref _refs);
        if (left == 0)
        {
            IsFreed = true;
            Interlocked.Decrement(ref _liveCount);
            DeviceMemory.Of(Device).Add(-ByteLength, -1, IsMapped);
            if (IsMapped)
            {
                Interlocked.Add(ref _mappedBytes, -ByteLength);
                Free();
                return;
            }
            using (Profiler.IsRecording ? Profiler.OnFreed(this) : default)
                Backends.Get(Device).Free(this);
            Interlocked.Add(ref _liveBytes, -ByteLength);
        }
        else if (left < 0)
            throw new InvalidOperationException("storage released more times than retained");
    }

    /// <summary>
    /// Returns the memory to its device's allocator: called once, by the device's <see cref="IBackend.Free"/> (or, for a
    /// mapped file, by the last <see cref="Release"/>).
    /// </summary>
    protected internal abstract void Free();
}

/// <summary>Host memory, 64-byte aligned so that AVX-512 loads of whole rows never split lines.</summary>
public sealed unsafe class HostStorage : Storage
{
    private readonly nint _ptr;

    /// <summary>
    /// Takes a block of <paramref name="byteLength"/> bytes from the host's caching allocator, 64-byte aligned; zeroed
    /// when <paramref name="zero"/>, else uninitialised (whatever its last user left).
    /// </summary>
    public HostStorage(long byteLength, bool zero = false) : base(Device.Cpu, byteLength)
        => _ptr = HostAllocator.Shared.Rent(byteLength, zero);

    /// <summary>The address of the first byte.</summary>
    public override nint Handle => _ptr;

    /// <summary>Gives the block back to the caching allocator, for the next storage of its size class.</summary>
    protected internal override void Free() => HostAllocator.Shared.Return(_ptr, ByteLength);
}
