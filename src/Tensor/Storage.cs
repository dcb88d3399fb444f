using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
    private static readonly ConcurrentDictionary<Device, StrongBox<long>> LiveOnDevice = new();

    /// <summary>
    /// Counts <paramref name="byteLength"/> bytes as live (for <see cref="LiveBytes"/> and <see cref="PeakBytes"/>);
    /// a subclass allocates them. The count of references starts at 0: the first tensor over it retains it.
    /// </summary>
    protected Storage(Device device, long byteLength)
    {
        Device = device;
        ByteLength = byteLength;
        Interlocked.Increment(ref _liveCount);
        long live = Interlocked.Add(ref _liveBytes, byteLength);
        long peak;
        while (live > (peak = Interlocked.Read(ref _peakBytes)) && Interlocked.CompareExchange(ref _peakBytes, live, peak) != peak)
        {
        }
        Interlocked.Add(ref LiveOnDevice.GetOrAdd(device, _ => new StrongBox<long>()).Value, byteLength);
        if (Profiler.IsRecording)
            Profiler.OnAllocated(this);
    }

    /// <summary>The device the bytes are on.</summary>
    public Device Device { get; }
    /// <summary>Size in bytes.</summary>
    public long ByteLength { get; }

    /// <summary>Host address (CPU) or device address (CUDA) of the first byte.</summary>
    public abstract nint Handle { get; }

    /// <summary>True once the last reference was released and the memory returned.</summary>
    public bool IsFreed { get; private set; }

    /// <summary>Storages allocated and not yet freed, in this process (for leak tests and memory reports).</summary>
    public static long LiveCount => Interlocked.Read(ref _liveCount);
    /// <summary>Bytes of storage allocated and not yet freed, in this process.</summary>
    public static long LiveBytes => Interlocked.Read(ref _liveBytes);

    /// <summary>The most bytes live at once since the last <see cref="ResetPeak"/>: tensor memory, the figure benches report.</summary>
    public static long PeakBytes => Interlocked.Read(ref _peakBytes);

    /// <summary>Bytes live on each device that has had a storage (the profiler's starting point).</summary>
    public static Dictionary<Device, long> LiveBytesByDevice() => LiveOnDevice.ToDictionary(p => p.Key, p => Interlocked.Read(ref p.Value.Value));

    /// <summary>Starts a new peak from the bytes live now (e.g. at the start of a training step).</summary>
    public static void ResetPeak() => Interlocked.Exchange(ref _peakBytes, LiveBytes);

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
    /// Drops a reference; the last one frees the memory. Throws if released more often than retained.
    /// </summary>
    public void Release()
    {
        int left = Interlocked.Decrement(ref _refs);
        if (left == 0)
        {
            IsFreed = true;
            using (Profiler.IsRecording ? Profiler.OnFreed(this) : default)
                Free();
            Interlocked.Decrement(ref _liveCount);
            Interlocked.Add(ref _liveBytes, -ByteLength);
            Interlocked.Add(ref LiveOnDevice[Device].Value, -ByteLength);
        }
        else if (left < 0)
            throw new InvalidOperationException("storage released more times than retained");
    }

    /// <summary>Returns the memory to its device: called once, by the last <see cref="Release"/>.</summary>
    protected abstract void Free();
}

/// <summary>Host memory, 64-byte aligned so that AVX-512 loads of whole rows never split lines.</summary>
public sealed unsafe class HostStorage : Storage
{
    private readonly void* _ptr;

    static HostStorage() => HostMemory.KeepFreedBlocks();

    /// <summary>
    /// Allocates <paramref name="byteLength"/> bytes, 64-byte aligned; zeroed when <paramref name="zero"/>, else
    /// uninitialised.
    /// </summary>
    public HostStorage(long byteLength, bool zero = false) : base(Device.Cpu, byteLength)
    {
        _ptr = NativeMemory.AlignedAlloc((nuint)Math.Max(byteLength, 1), 64);
        if (zero)
            NativeMemory.Clear(_ptr, (nuint)byteLength);
    }

    /// <summary>The address of the first byte.</summary>
    public override nint Handle => (nint)_ptr;

    /// <summary>Frees the aligned block.</summary>
    protected override void Free() => NativeMemory.AlignedFree(_ptr);
}
