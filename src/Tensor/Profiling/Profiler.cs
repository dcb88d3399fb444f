using System.Runtime.CompilerServices;

namespace RawLongLoRA.Profiling;

/// <summary>
/// Records where time and memory go, as torch.profiler does: <c>using (Profiler.Record("name"))</c>
/// around any code, and, while a <see cref="ProfileSession"/> records, every autograd op, gradient
/// rule, backend primitive, module forward, allocation and free. While nothing records, each hook in
/// the library is one read of a static flag and allocates nothing.
/// </summary>
public static class Profiler
{
    /// <summary>The scope the trainer and <c>bench step</c> put around each training step; the summary gives these steps a table of their own.</summary>
    public const string StepScope = "train step";

    /// <summary>The scope around a checkpointed segment's second forward, run during backward.</summary>
    public const string RecomputeScope = "checkpoint.recompute";

    private static volatile bool _recording;
    private static ProfileSession? _session;
    private static readonly Lock Gate = new();

    [ThreadStatic]
    private static ThreadState? _thread;

    /// <summary>
    /// Where every range but allocations and frees is mirrored as it opens and closes, on its thread: NVTX ranges once a
    /// CUDA device is profiled, so that Nsight Systems and ncu show our names. Null: nowhere.
    /// </summary>
    internal static IRangeMirror? Mirror { get; set; }

    /// <summary>The session recording now, if any.</summary>
    internal static ProfileSession? Current => _session;

    /// <summary>Whether a session is recording: the one check every hook makes.</summary>
    public static bool IsRecording
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _recording;
    }

    /// <summary>
    /// Starts recording, process-wide, until the session is stopped or disposed, or has
    /// <paramref name="maxEvents"/> events (a few hundred bytes each; a million is some hundred training
    /// steps of a small model): it then stops by itself and says so. One session at a time.
    /// </summary>
    public static ProfileSession Start(int maxEvents = 1_000_000)
    {
        lock (Gate)
        {
            if (_session is not null)
                throw new InvalidOperationException("profiler: a session is already recording; stop it first");
            var session = new ProfileSession(Storage.LiveBytesByDevice(), maxEvents);
            _session = session;
            _recording = true;
            return session;
        }
    }

    internal static void Stop(ProfileSession session)
    {
        lock (Gate)
        {
            if (_session != session)
                return;
            _recording = false;
            _session = null;
        }
    }

    /// <summary>A range named by the caller (a training step, a phase of the work).</summary>
    public static ProfileRange Record(string name) => _recording ? new ProfileRange(Open(name, ProfileKind.Scope)) : default;

    /// <summary>A module's forward, under its full name ("model.layers.3.self_attn"): ops made inside are attributed to it, in backward too.</summary>
    public static ProfileRange Module(string path)
    {
        if (!_recording)
            return default;
        var e = Open(path, ProfileKind.Module);
        if (e is not null)
            PushFrame(e, path);
        return new ProfileRange(e);
    }

    /// <summary>An autograd op's forward, with its inputs' shapes, dtype and device.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ProfileRange Op(string name, params ReadOnlySpan<Tensor?> inputs) => _recording ? OpRecorded(name, inputs) : default;

    private static ProfileRange OpRecorded(string name, ReadOnlySpan<Tensor?> inputs)
    {
        var e = Open(name, ProfileKind.Op);
        if (e is not null)
            Describe(e, inputs);
        return new ProfileRange(e);
    }

    /// <summary>
    /// A backend primitive on <paramref name="device"/> (called by the profiling wrapper of the backends),
    /// with its FLOPs where known and the bytes it must move.
    /// </summary>
    public static ProfileRange Kernel(string name, Device device, ReadOnlySpan<Tensor?> tensors, double? flops, long bytesMoved)
    {
        if (!_recording)
            return default;
        var e = Open(name, ProfileKind.Kernel);
        if (e is not null)
        {
            Describe(e, tensors);
            e.Device = device;
            e.Flops = flops;
            e.BytesMoved = bytesMoved;
        }
        return new ProfileRange(e);
    }

    /// <summary>Allocating <paramref name="bytes"/> on <paramref name="device"/> (called by the profiling wrapper around <see cref="IBackend.Allocate"/>).</summary>
    public static ProfileRange Allocation(Device device, long bytes)
    {
        if (!_recording)
            return default;
        var e = Open("[alloc]", ProfileKind.Memory);
        if (e is not null)
        {
            e.Device = device;
            e.BytesMoved = bytes;
        }
        return new ProfileRange(e);
    }

    /// <summary>The second forward of a checkpointed segment: what runs inside is marked as recompute.</summary>
    public static ProfileRange Recompute()
    {
        if (!_recording)
            return default;
        var e = Open(RecomputeScope, ProfileKind.Scope);
        if (e is not null)
            SetPhase(e, ProfilePhase.Recompute);
        return new ProfileRange(e);
    }

    /// <summary>A backward pass for the autograd engine to report each node through; null while nothing records.</summary>
    public static BackwardPass? Backward() => _recording ? new BackwardPass() : null;

    /// <summary>
    /// Adds one parallel loop's figures to the innermost open event of this thread: its wall time, the
    /// time its bodies ran summed over threads, and the threads it could use.
    /// </summary>
    public static void NoteParallel(TimeSpan wall, TimeSpan busy, int threads)
    {
        if (!_recording || State() is not { Open.Count: > 0 } t)
            return;
        var e = t.Open[^1];
        long wallNs = (long)wall.TotalNanoseconds;
        e.ParallelNs += wallNs;
        e.ThreadBusyNs += (long)busy.TotalNanoseconds;
        e.ThreadCapacityNs += wallNs * threads;
    }

    // ---- hooks of this layer (Storage, Tensor, Node): each caller checks IsRecording first

    internal static void OnAllocated(Storage s)
    {
        if (_session is not { } session)
            return;
        var t = State();
        ProfileEvent? madeBy = null;
        if (t is not null)
            for (int i = t.Open.Count - 1; i >= 0 && madeBy is null; i--)
                if (t.Open[i].Kind != ProfileKind.Memory)
                    madeBy = t.Open[i];
        session.Memory.OnAllocated(s, session.Now(), madeBy, t?.Frame?.Path);
    }

    /// <summary>
    /// Times the free as a "[free]" event and logs it when the event closes, once the backend has the block back, so
    /// that the sample shows the allocator's counters after the free.
    /// </summary>
    internal static ProfileRange OnFreed(Storage s)
    {
        if (_session is not { } session)
            return default;
        var e = Open("[free]", ProfileKind.Memory);
        if (e is null)
        {
            session.Memory.OnFreed(s, session.Now());
            return default;
        }
        e.Device = s.Device;
        e.BytesMoved = s.ByteLength;
        e.Freed = s;
        return new ProfileRange(e);
    }

    internal static void OnViewed(Tensor t) => _session?.Memory.OnViewed(t);

    /// <summary>The module frame new autograd nodes are made in.</summary>
    internal static ModuleFrame? CurrentFrame => State()?.Frame;

    // ---- the event stack of each thread

    private sealed class ThreadState(ProfileSession session)
    {
        public ProfileSession Session { get; } = session;
        public List<ProfileEvent> Open { get; } = [];
        public ModuleFrame? Frame { get; set; }
        public ProfilePhase Phase { get; set; }
    }

    /// <summary>This thread's state in the current session (a new one per session); null while nothing records.</summary>
    private static ThreadState? State()
    {
        var session = _session;
        if (session is null)
            return null;
        if (_thread?.Session != session)
            _thread = new ThreadState(session);
        return _thread;
    }

    internal static ProfileEvent? Open(string name, ProfileKind kind)
    {
        if (State() is not { } t)
            return null;
        if (t.Session.IsFull)
        {
            t.Session.Stop();
            return null;
        }
        var e = t.Session.Add(t.Open.Count > 0 ? t.Open[^1].Index : -1, name, kind, t.Phase, Environment.CurrentManagedThreadId);
        e.Module = t.Frame?.Path;
        e.OpenAllocated = t.Session.Memory.AllocatedBytes;
        if (kind == ProfileKind.Kernel)
            (e.OpenMinorFaults, e.OpenMajorFaults, e.OpenSystemNs) = ProcessCounters.Read();
        if (kind != ProfileKind.Memory)
            Mirror?.Push(name);
        // Counters first, clock last: the event's own bookkeeping stays outside its duration.
        e.StartNs = t.Session.Now();
        t.Open.Add(e);
        return e;
    }

    internal static void Close(ProfileEvent e)
    {
        var session = _session;
        if (session is null || _thread is not { } t || t.Session != session || !t.Open.Contains(e))
            return;
        long end = session.Now();
        // Close whatever was left open inside e (an exception through a range without using) with it.
        while (t.Open.Count > 0)
        {
            var top = t.Open[^1];
            t.Open.RemoveAt(t.Open.Count - 1);
            Finish(t, top, end);
            if (t.Open.Count > 0)
            {
                var parent = t.Open[^1];
                parent.MinorFaults += top.MinorFaults;
                parent.MajorFaults += top.MajorFaults;
                parent.SystemNs += top.SystemNs;
            }
            if (top == e)
                break;
        }
    }

    private static void Finish(ThreadState t, ProfileEvent e, long end)
    {
        e.EndNs = end;
        if (e.Kind != ProfileKind.Memory)
            Mirror?.Pop();
        e.BytesAllocated = t.Session.Memory.AllocatedBytes - e.OpenAllocated;
        if (e.Kind == ProfileKind.Kernel)
        {
            var (minor, major, system) = ProcessCounters.Read();
            e.MinorFaults = minor - e.OpenMinorFaults;
            e.MajorFaults = major - e.OpenMajorFaults;
            e.SystemNs = system - e.OpenSystemNs;
        }
        if (e.Freed is { } freed)
            t.Session.Memory.OnFreed(freed, end);
        if (e.PushedFrame is { } f)
            t.Frame = f.Parent;
        if (e.RestorePhase is { } p)
            t.Phase = p;
    }

    internal static void PushFrame(ProfileEvent e, string path)
    {
        if (State() is not { } t)
            return;
        t.Frame = new ModuleFrame(path, t.Frame);
        e.PushedFrame = t.Frame;
    }

    internal static void SetPhase(ProfileEvent e, ProfilePhase phase)
    {
        if (State() is not { } t)
            return;
        e.RestorePhase = t.Phase;
        t.Phase = phase;
    }

    private static void Describe(ProfileEvent e, ReadOnlySpan<Tensor?> tensors)
    {
        var shapes = new List<string>(tensors.Length);
        foreach (var x in tensors)
        {
            if (x is null || x.IsDisposed)
                continue;
            shapes.Add(RawLongLoRA.Shapes.Format(x.Shape));
            if (e.DType is null)
            {
                e.DType = x.DType;
                e.Device = x.Device;
            }
        }
        e.Shapes = string.Join(", ", shapes);
    }
}
