using System.Diagnostics;

namespace RawLongLoRA.Profiling;

/// <summary>
/// What one recording collected (<see cref="Profiler.Start"/> to <see cref="Stop"/>): the events, the
/// memory timeline, and the wall time they fall in. <see cref="Save"/> writes a Chrome/Perfetto trace
/// and the summary table beside it.
/// </summary>
public sealed class ProfileSession : IDisposable
{
    private readonly long _origin = Stopwatch.GetTimestamp();
    private readonly double _nsPerTick = 1e9 / Stopwatch.Frequency;
    private readonly List<ProfileEvent> _events = [];
    private readonly Lock _gate = new();
    private readonly List<Action> _resolvers = [];
    private long _stopNs = -1;

    private readonly (long Minor, long Major, long SystemNs) _countersAtStart = ProcessCounters.Read();

    internal ProfileSession(Dictionary<Device, long> liveAtStart, int maxEvents)
    {
        MaxEvents = maxEvents;
        Memory = new MemoryLog(liveAtStart);
        Thread = Environment.CurrentManagedThreadId;
    }

    /// <summary>Page faults of the whole process while recording, in kernels or not (0 where they cannot be read).</summary>
    public (long Minor, long Major) PageFaults { get; private set; }

    internal MemoryLog Memory { get; }

    /// <summary>The thread that started recording: the summary's wall time is this thread's.</summary>
    public int Thread { get; }

    /// <summary>The most events it records before it stops by itself.</summary>
    public int MaxEvents { get; }

    /// <summary>Whether it stopped by itself, having recorded <see cref="MaxEvents"/> events.</summary>
    public bool StoppedFull { get; private set; }

    internal bool IsFull
    {
        get
        {
            lock (_gate)
                return _events.Count >= MaxEvents;
        }
    }

    /// <summary>Whether the session still records.</summary>
    public bool IsRecording => _stopNs < 0;

    /// <summary>Every event, in the order they started (a parent before its children); device times resolved first.</summary>
    public IReadOnlyList<ProfileEvent> Events
    {
        get
        {
            Resolve();
            lock (_gate)
                return [.. _events];
        }
    }

    /// <summary>Live bytes per device after each allocation and free, in order.</summary>
    public IReadOnlyList<MemorySample> MemorySamples => Memory.Samples;

    /// <summary>Live bytes per device when recording started.</summary>
    public IReadOnlyDictionary<Device, long> MemoryAtStart => Memory.Baseline;

    /// <summary>Nanoseconds from start to stop (to now while recording).</summary>
    public long WallNs => IsRecording ? Now() : _stopNs;

    internal long Now() => (long)((Stopwatch.GetTimestamp() - _origin) * _nsPerTick);

    /// <summary>
    /// Adds work that fills in events' times later: a GPU's kernel times, read from events its stream passes after the
    /// host has moved on. It runs whenever the events are read, and when recording stops.
    /// </summary>
    internal void AddResolver(Action resolve)
    {
        lock (_gate)
            _resolvers.Add(resolve);
    }

    /// <summary>Runs every resolver: the device times of events recorded so far are in place after it.</summary>
    internal void Resolve()
    {
        Action[] resolvers;
        lock (_gate)
            resolvers = [.. _resolvers];
        foreach (var r in resolvers)
            r();
    }

    internal ProfileEvent Add(int parent, string name, ProfileKind kind, ProfilePhase phase, int stream)
    {
        lock (_gate)
        {
            var e = new ProfileEvent(_events.Count, parent, name, kind, phase, stream) { EndNs = -1 };
            _events.Add(e);
            return e;
        }
    }

    /// <summary>Stops recording; events still open end now. Safe to call twice.</summary>
    public void Stop()
    {
        if (!IsRecording)
            return;
        Resolve();
        long end = Now();
        StoppedFull = IsFull;
        var counters = ProcessCounters.Read();
        PageFaults = (counters.MinorFaults - _countersAtStart.Minor, counters.MajorFaults - _countersAtStart.Major);
        Profiler.Stop(this);
        _stopNs = end;
        lock (_gate)
            foreach (var e in _events.Where(e => e.EndNs < 0))
                e.EndNs = end;
    }

    /// <summary>
    /// The summary table: per name, calls, total and self time, GFLOP/s; time outside ops as rows of its
    /// own; modules, threads, page faults, and what was alive at the memory peak. With
    /// <paramref name="within"/>, only the time inside scopes of that name (e.g. <see cref="Profiler.StepScope"/>);
    /// with <paramref name="byShape"/>, a row per op or kernel and input shapes.
    /// </summary>
    public ProfileSummary Summary(string? within = null, bool byShape = false) => new(this, within, byShape);

    /// <summary>
    /// Writes the Chrome trace to <paramref name="path"/> and the summary text beside it (the same name
    /// with .txt; a table for the training steps first where there are any), and returns that text's path.
    /// </summary>
    public string Save(string path)
    {
        Stop();
        ChromeTrace.Write(this, path);
        string table = Path.ChangeExtension(path, ".txt");
        if (table == path)
            table = path + ".txt";
        File.WriteAllText(table, Report(maxRows: null));
        return table;
    }

    /// <summary>The summary of the training steps (<see cref="Profiler.StepScope"/>) where there are any, else of the whole recording.</summary>
    public ProfileSummary StepsOrWhole() => Events.Any(e => e.Name == Profiler.StepScope) ? Summary(Profiler.StepScope) : Summary();

    /// <summary>
    /// The text <see cref="Save"/> writes: the training steps' table where there are any, the same by input
    /// shape, then the whole recording's.
    /// </summary>
    public string Report(int? maxRows)
    {
        var first = StepsOrWhole();
        string text = first.Format(maxRows) + Environment.NewLine + Summary(first.Within, byShape: true).Format(maxRows);
        return first.Within is null ? text : text + Environment.NewLine + Summary().Format(maxRows);
    }

    /// <summary>Stops recording.</summary>
    public void Dispose() => Stop();
}
