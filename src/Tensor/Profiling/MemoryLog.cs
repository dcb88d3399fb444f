namespace RawLongLoRA.Profiling;

/// <summary>Live storage bytes on one device right after an allocation or a free, and its allocator's counters then.</summary>
/// <param name="Ns">When, on the session's timeline.</param>
/// <param name="Device">Which device's memory.</param>
/// <param name="LiveBytes">Bytes live on that device then, counting storages made before recording.</param>
/// <param name="ReservedBytes">Bytes the device's allocator held then: blocks in use (rounded up to their size class) and cached.</param>
/// <param name="CachedBytes">Of those, the freed blocks kept for reuse.</param>
public readonly record struct MemorySample(long Ns, Device Device, long LiveBytes, long ReservedBytes = 0, long CachedBytes = 0)
{
    /// <summary>Order among all samples of the session (allocations and frees are serialised).</summary>
    internal long Seq { get; init; }
}

/// <summary>
/// Every storage allocated or freed while recording, in order, with the op and module that made it:
/// enough to draw live bytes per device and to name what was alive at the peak, found afterwards by
/// replaying the log rather than by snapshots at every new peak.
/// </summary>
internal sealed class MemoryLog
{
    private readonly Lock _gate = new();
    private readonly Dictionary<Storage, Allocation> _live = new(ReferenceEqualityComparer.Instance);
    private readonly List<Allocation> _all = [];
    private readonly List<MemorySample> _samples = [];
    private readonly Dictionary<Device, long> _current;
    private long _seq;
    private long _allocated;

    public MemoryLog(Dictionary<Device, long> liveAtStart)
    {
        Baseline = new Dictionary<Device, long>(liveAtStart);
        _current = new Dictionary<Device, long>(liveAtStart);
    }

    /// <summary>Bytes live on each device when recording started.</summary>
    public IReadOnlyDictionary<Device, long> Baseline { get; }

    /// <summary>Bytes allocated since recording started (events read it at open and close).</summary>
    public long AllocatedBytes => Interlocked.Read(ref _allocated);

    public List<MemorySample> Samples
    {
        get
        {
            lock (_gate)
                return [.. _samples];
        }
    }

    public void OnAllocated(Storage s, long ns, ProfileEvent? madeBy, string? module)
    {
        Interlocked.Add(ref _allocated, s.ByteLength);
        lock (_gate)
        {
            long seq = ++_seq;
            var a = new Allocation(s.ByteLength, s.Device, seq, madeBy?.Name ?? "(outside any range)", module, madeBy?.Phase ?? ProfilePhase.Forward);
            _live[s] = a;
            _all.Add(a);
            Sample(ns, s.Device, s.ByteLength, seq);
        }
    }

    public void OnFreed(Storage s, long ns)
    {
        lock (_gate)
        {
            long seq = ++_seq;
            if (_live.Remove(s, out var a))
                a.FreeSeq = seq;
            Sample(ns, s.Device, -s.ByteLength, seq);
        }
    }

    /// <summary>Notes the shape and dtype of the first tensor made on a storage allocated while recording.</summary>
    public void OnViewed(Tensor t)
    {
        lock (_gate)
        {
            if (_live.TryGetValue(t.Storage, out var a) && a.Shape is null)
                (a.Shape, a.DType) = (RawLongLoRA.Shapes.Format(t.Shape), t.DType);
        }
    }

    private void Sample(long ns, Device device, long delta, long seq)
    {
        long live = _current.GetValueOrDefault(device) + delta;
        _current[device] = live;
        var allocator = DeviceMemory.Of(device);
        _samples.Add(new MemorySample(ns, device, live, allocator.ReservedBytes, allocator.CachedBytes) { Seq = seq });
    }

    /// <summary>
    /// For each device that held memory when recording began or allocated during it (not every device ever used), its
    /// peak and what was alive then, largest first.
    /// </summary>
    public List<MemoryPeak> Peaks(int top)
    {
        lock (_gate)
        {
            var peaks = new List<MemoryPeak>();
            var used = Baseline.Where(p => p.Value != 0).Select(p => p.Key).Union(_samples.Select(s => s.Device));
            foreach (var device in used.Distinct().OrderBy(d => d.ToString()))
            {
                long baseline = Baseline.GetValueOrDefault(device);
                var at = new MemorySample(0, device, baseline);
                foreach (var s in _samples)
                    if (s.Device == device && s.LiveBytes > at.LiveBytes)
                        at = s;
                var alive = _all.Where(a => a.Device == device && a.AllocSeq <= at.Seq && a.FreeSeq > at.Seq)
                    .OrderByDescending(a => a.Bytes).ToList();
                long fromRecording = alive.Sum(a => a.Bytes);
                var tensors = alive.Take(top).Select(a => new PeakTensor(a.Bytes, a.Shape, a.DType, a.MadeBy, a.Module, a.Phase)).ToList();
                peaks.Add(new MemoryPeak(device, at.LiveBytes, at.Ns, at.LiveBytes - fromRecording, alive.Count, tensors));
            }
            return peaks;
        }
    }

    private sealed class Allocation(long bytes, Device device, long allocSeq, string madeBy, string? module, ProfilePhase phase)
    {
        public long Bytes { get; } = bytes;
        public Device Device { get; } = device;
        public long AllocSeq { get; } = allocSeq;
        public long FreeSeq { get; set; } = long.MaxValue;
        public string MadeBy { get; } = madeBy;
        public string? Module { get; } = module;
        public ProfilePhase Phase { get; } = phase;
        public string? Shape { get; set; }
        public DType? DType { get; set; }
    }
}

/// <summary>The most storage bytes live at once on one device while recording, and what they were.</summary>
/// <param name="Device">The device.</param>
/// <param name="PeakBytes">Live bytes at the peak (what <see cref="Storage.PeakBytes"/> reports for a one-device run).</param>
/// <param name="AtNs">When the peak was first reached.</param>
/// <param name="BeforeRecordingBytes">Of those, bytes in storages made before recording started (weights, optimizer state).</param>
/// <param name="AliveCount">Storages made while recording and alive at the peak.</param>
/// <param name="Largest">The largest of them.</param>
public sealed record MemoryPeak(Device Device, long PeakBytes, long AtNs, long BeforeRecordingBytes, int AliveCount, IReadOnlyList<PeakTensor> Largest);

/// <summary>A storage alive at the peak.</summary>
/// <param name="Bytes">Its size.</param>
/// <param name="Shape">The shape of the first tensor made on it.</param>
/// <param name="DType">That tensor's dtype.</param>
/// <param name="MadeBy">The innermost range that allocated it: an op, a backward rule, a kernel, or a caller's scope.</param>
/// <param name="Module">The module that op ran in.</param>
/// <param name="Phase">Forward, backward or recompute.</param>
public sealed record PeakTensor(long Bytes, string? Shape, DType? DType, string MadeBy, string? Module, ProfilePhase Phase);
