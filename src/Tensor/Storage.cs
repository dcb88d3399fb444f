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

    public Device Device { get; }
    public long ByteLength { get; }

    /// <summary>Host address (CPU) or device address (CUDA) of the first byte.</summary>
    public abstract nint Handle { get; }

    public bool IsFreed { get; private set; }

    /// <summary>Storages allocated and not yet freed, in this process (for leak tests and memory reports).</summary>
    public static long LiveCount => Interlocked.Read(ref _liveCount);
    public static long LiveBytes => Interlocked.Read(ref _liveBytes);

    /// <summary>The most bytes live at once since the last <see cref="ResetPeak"/>: tensor memory, the figure benches report.</summary>
    public static long PeakBytes => Interlocked.Read(ref _peakBytes);

    /// <summary>Bytes live on each device that has had a storage (the profiler's starting point).</summary>
    public static Dictionary<Device, long> LiveBytesByDevice() => LiveOnDevice.ToDictionary(p => p.Key, p => Interlocked.Read(ref p.Value.Value));

    public static void ResetPeak() => Interlocked.Exchange(ref _peakBytes, LiveBytes);

    public int RefCount => Volatile.Read(ref _refs);

    public void Retain()
    {
        if (IsFreed)
            throw new ObjectDisposedException(nameof(Storage), "storage was already freed");
        Interlocked.Increment(ref _refs);
    }

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

    protected abstract void Free();
}

/// <summary>Host memory, 64-byte aligned so that AVX-512 loads of whole rows never split lines.</summary>
public sealed unsafe class HostStorage : Storage
{
    private readonly void* _ptr;

    static HostStorage() => HostMemory.KeepFreedBlocks();

    public HostStorage(long byteLength, bool zero = false) : base(Device.Cpu, byteLength)
    {
        _ptr = NativeMemory.AlignedAlloc((nuint)Math.Max(byteLength, 1), 64);
        if (zero)
            NativeMemory.Clear(_ptr, (nuint)byteLength);
    }

    public override nint Handle => (nint)_ptr;

    protected override void Free() => NativeMemory.AlignedFree(_ptr);
}
