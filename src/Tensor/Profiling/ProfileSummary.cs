using System.Text.RegularExpressions;

namespace RawLongLoRA.Profiling;

/// <summary>
/// The session's events folded into a table per name, sorted by total time (torch.profiler's
/// key_averages), on the recording thread's wall time: the rows' self times, the "[outside ops]" rows
/// included, add up to that wall time. Also the time per module, in and out of parallel loops, the page
/// faults, and the memory peak.
/// </summary>
public sealed partial class ProfileSummary
{
    internal ProfileSummary(ProfileSession session, string? within, bool byShape)
    {
        Within = within;
        ByShape = byShape;
        var events = session.Events;
        int n = events.Count;
        var counted = new bool[n];
        long wall = 0;
        int roots = 0;
        for (int i = 0; i < n; i++)
        {
            var e = events[i];
            if (e.Stream != session.Thread)
                continue;
            bool parentCounted = e.Parent >= 0 && counted[e.Parent];
            bool root = within is null ? e.Parent < 0 : e.Name == within && !parentCounted;
            counted[i] = root || parentCounted;
            if (root)
            {
                wall += e.DurationNs;
                roots++;
            }
        }
        long topLevel = wall;
        if (within is null)
            wall = session.WallNs;
        WallNs = wall;
        Scopes = roots;

        // Children's sums, children after parents in index order: one backward sweep.
        var childNs = new long[n];
        var childMinor = new long[n];
        var childMajor = new long[n];
        var childSystem = new long[n];
        var flops = new double[n];
        var hasFlops = new bool[n];
        for (int i = n - 1; i >= 0; i--)
        {
            var e = events[i];
            if (e.Flops is { } own)
                (flops[i], hasFlops[i]) = (own, true);
            if (!counted[i] || e.Parent < 0)
                continue;
            childNs[e.Parent] += e.DurationNs;
            childMinor[e.Parent] += e.MinorFaults;
            childMajor[e.Parent] += e.MajorFaults;
            childSystem[e.Parent] += e.SystemNs;
            if (hasFlops[i] && events[e.Parent].Flops is null)
            {
                flops[e.Parent] += flops[i];
                hasFlops[e.Parent] = true;
            }
        }

        var rows = new Dictionary<string, Builder>();
        var modules = new Dictionary<string, ModuleBuilder>();
        var keys = new string[n];
        for (int i = 0; i < n; i++)
        {
            if (!counted[i])
                continue;
            var e = events[i];
            keys[i] = Key(e, byShape, out bool outside);
            var r = rows.TryGetValue(keys[i], out var found) ? found : rows[keys[i]] = new Builder(keys[i], outside);
            long self = e.DurationNs - childNs[i];
            r.Calls++;
            r.SelfNs += self;
            r.MinorFaults += e.MinorFaults - childMinor[i];
            r.MajorFaults += e.MajorFaults - childMajor[i];
            r.SystemNs += e.SystemNs - childSystem[i];
            r.ParallelNs += e.ParallelNs;
            r.ThreadBusyNs += e.ThreadBusyNs;
            r.ThreadCapacityNs += e.ThreadCapacityNs;
            if (e.BytesMoved is { } moved && e.Kind == ProfileKind.Kernel)
                r.BytesMoved = (r.BytesMoved ?? 0) + moved;
            // Nested events of one name count once in the total (recursion, a layer's scope within itself).
            if (outside)
            {
                // Outside ops, only time is its own: what a scope's children allocated or computed is theirs.
                r.TotalNs += self;
                if (e.Kind == ProfileKind.Memory && e.Name == "[alloc]")
                    r.BytesAllocated += e.BytesAllocated;
            }
            else if (!HasAncestor(events, keys, i, keys[i]))
            {
                r.TotalNs += e.DurationNs;
                r.BytesAllocated += e.BytesAllocated;
                if (hasFlops[i])
                    r.Flops = (r.Flops ?? 0) + flops[i];
            }
            if (e.Kind == ProfileKind.Module)
                AddModule(modules, events, i, hasFlops[i] ? flops[i] : 0);
        }
        long unrecorded = wall - topLevel;
        if (unrecorded > 0)
            rows["[outside ops] unrecorded"] = new Builder("[outside ops] unrecorded", true) { Calls = 1, SelfNs = unrecorded, TotalNs = unrecorded };

        Rows = [.. rows.Values.Select(b => b.Row()).OrderByDescending(r => r.TotalNs).ThenBy(r => r.Name, StringComparer.Ordinal)];
        GpuRows = GpuKernels(events, counted, byShape);
        Modules = [.. modules.Values.Select(b => b.Row()).OrderByDescending(r => r.TotalNs).ThenBy(r => r.Name, StringComparer.Ordinal)];
        Memory = session.Memory.Peaks(top: 10);
        StoppedFullAtNs = session.StoppedFull ? session.WallNs : null;
        if (within is null)
            RecordingPageFaults = session.PageFaults;
    }

    /// <summary>Whether ops and kernels have a row per input shapes (torch's group_by_input_shape).</summary>
    public bool ByShape { get; }

    /// <summary>The scope name the summary is restricted to, or null for the whole recording.</summary>
    public string? Within { get; }

    /// <summary>How many such scopes (top-level events for the whole recording).</summary>
    public int Scopes { get; }

    /// <summary>The recording thread's wall time (or the scopes' summed time) the rows share out.</summary>
    public long WallNs { get; }

    /// <summary>Ops, backward rules, kernels and "[outside ops]" rows, by total time.</summary>
    public IReadOnlyList<ProfileRow> Rows { get; }

    /// <summary>
    /// Kernels timed on a GPU's stream (<see cref="ProfileEvent.GpuStream"/>), by total GPU time: within scopes, those
    /// whose host call falls in them. Empty on the CPU.
    /// </summary>
    public IReadOnlyList<ProfileRow> GpuRows { get; }

    /// <summary>The rows' self times summed: equal to <see cref="WallNs"/>.</summary>
    public long SelfTotalNs => Rows.Sum(r => r.SelfNs);

    /// <summary>Time per module kind, by total.</summary>
    public IReadOnlyList<ModuleRow> Modules { get; }

    /// <summary>Per device, the memory peak of the whole recording and what was alive at it.</summary>
    public IReadOnlyList<MemoryPeak> Memory { get; }

    /// <summary>Page faults of the process over the whole recording, kernels or not; null for a summary within scopes.</summary>
    public (long Minor, long Major)? RecordingPageFaults { get; }

    /// <summary>When recording stopped by itself, full (<see cref="ProfileSession.MaxEvents"/>); null if it did not.</summary>
    public long? StoppedFullAtNs { get; }

    /// <summary>The row of that name, or null.</summary>
    public ProfileRow? Row(string name) => Rows.FirstOrDefault(r => r.Name == name);

    /// <summary>The summary row an event falls in; outside is true for time that is in no op.</summary>
    private static string Key(ProfileEvent e, bool byShape, out bool outside)
    {
        outside = e.Kind is ProfileKind.Scope or ProfileKind.Module or ProfileKind.Memory;
        return e.Kind switch
        {
            ProfileKind.Memory => e.Name == "[alloc]" ? "[outside ops] allocation" : "[outside ops] free",
            ProfileKind.Module => e.Phase == ProfilePhase.Backward ? "[outside ops] autograd engine" : "[outside ops] module code",
            ProfileKind.Scope => e.Name == "autograd.backward" ? "[outside ops] autograd engine" : $"[outside ops] in {e.Name}",
            _ => (e.Phase == ProfilePhase.Recompute ? e.Name + " [recompute]" : e.Name) + (byShape ? $" {e.Shapes}" : ""),
        };
    }

    private static List<ProfileRow> GpuKernels(IReadOnlyList<ProfileEvent> events, bool[] counted, bool byShape)
    {
        var rows = new Dictionary<string, Builder>();
        foreach (var e in events)
        {
            if (e.Stream != ProfileEvent.GpuStream || e.Parent < 0 || !counted[e.Parent])
                continue;
            string key = Key(e, byShape, out _);
            var r = rows.TryGetValue(key, out var found) ? found : rows[key] = new Builder(key, false);
            r.Calls++;
            r.TotalNs += e.DurationNs;
            r.SelfNs += e.DurationNs;
            if (e.Flops is { } f)
                r.Flops = (r.Flops ?? 0) + f;
            if (e.BytesMoved is { } b)
                r.BytesMoved = (r.BytesMoved ?? 0) + b;
        }
        return [.. rows.Values.Select(b => b.Row()).OrderByDescending(r => r.TotalNs).ThenBy(r => r.Name, StringComparer.Ordinal)];
    }

    private static bool HasAncestor(IReadOnlyList<ProfileEvent> events, string[] keys, int i, string key)
    {
        for (int p = events[i].Parent; p >= 0; p = events[p].Parent)
            if (keys[p] == key && events[p].Kind == events[i].Kind)
                return true;
        return false;
    }

    [GeneratedRegex(@"(?<=^|\.)\d+(?=\.|$)")]
    private static partial Regex LayerIndex();

    private static void AddModule(Dictionary<string, ModuleBuilder> modules, IReadOnlyList<ProfileEvent> events, int i, double flops)
    {
        var e = events[i];
        string name = LayerIndex().Replace(e.Name, "*");
        var m = modules.TryGetValue(name, out var found) ? found : modules[name] = new ModuleBuilder(name);
        for (int p = e.Parent; p >= 0; p = events[p].Parent)
            if (events[p].Kind == ProfileKind.Module && LayerIndex().Replace(events[p].Name, "*") == name)
                return;
        switch (e.Phase)
        {
            case ProfilePhase.Forward:
                m.Calls++;
                m.ForwardNs += e.DurationNs;
                break;
            case ProfilePhase.Recompute:
                m.RecomputeNs += e.DurationNs;
                break;
            default:
                m.BackwardNs += e.DurationNs;
                break;
        }
        m.Flops += flops;
    }

    private sealed class Builder(string name, bool outside)
    {
        public int Calls;
        public long TotalNs, SelfNs, BytesAllocated, MinorFaults, MajorFaults, SystemNs, ParallelNs, ThreadBusyNs, ThreadCapacityNs;
        public double? Flops;
        public long? BytesMoved;

        public ProfileRow Row() => new()
        {
            Name = name, IsOutsideOps = outside, Calls = Calls, TotalNs = TotalNs, SelfNs = SelfNs, Flops = Flops, BytesMoved = BytesMoved,
            BytesAllocated = BytesAllocated, MinorFaults = MinorFaults, MajorFaults = MajorFaults, SystemNs = SystemNs, ParallelNs = ParallelNs,
            ThreadBusyNs = ThreadBusyNs, ThreadCapacityNs = ThreadCapacityNs,
        };
    }

    private sealed class ModuleBuilder(string name)
    {
        public int Calls;
        public long ForwardNs, RecomputeNs, BackwardNs;
        public double Flops;

        public ModuleRow Row() => new(name, Calls, ForwardNs, RecomputeNs, BackwardNs, Flops);
    }
}
