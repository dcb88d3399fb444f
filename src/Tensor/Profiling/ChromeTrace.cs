using System.Text.Json;

namespace RawLongLoRA.Profiling;

/// <summary>
/// A session as a Chrome Trace Event Format file (opened by ui.perfetto.dev and chrome://tracing):
/// one complete event ("ph": "X", ts and dur in µs) per range, on the process of its device and the
/// thread or stream it was timed on, so ranges nest by time; a counter ("ph": "C") of live and peak
/// bytes per device after each allocation and free, with the allocator's reserved and cached bytes.
/// </summary>
internal static class ChromeTrace
{
    public static void Write(ProfileSession session, string path)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false });
        w.WriteStartObject();
        w.WriteString("displayTimeUnit", "ms");
        w.WriteStartArray("traceEvents");
        var events = session.Events;
        foreach (var pid in events.Select(e => e.Device).Append(Device.Cpu).Distinct())
            Metadata(w, "process_name", Pid(pid), 0, $"rawlora {pid}");
        foreach (var (device, tid) in events.Select(e => (e.Device, e.Stream)).Distinct())
            Metadata(w, "thread_name", Pid(device), tid, tid == ProfileEvent.GpuStream ? "stream" : tid == session.Thread ? "main" : $"thread {tid}");
        foreach (var e in events)
            Complete(w, e);
        var peak = new Dictionary<Device, long>(session.MemoryAtStart);
        foreach (var s in session.MemorySamples)
        {
            peak[s.Device] = Math.Max(peak.GetValueOrDefault(s.Device), s.LiveBytes);
            w.WriteStartObject();
            w.WriteString("name", $"memory {s.Device}");
            w.WriteString("ph", "C");
            w.WriteNumber("ts", Micros(s.Ns));
            w.WriteNumber("pid", Pid(s.Device));
            w.WriteStartObject("args");
            w.WriteNumber("live_bytes", s.LiveBytes);
            w.WriteNumber("peak_bytes", peak[s.Device]);
            w.WriteNumber("reserved_bytes", s.ReservedBytes);
            w.WriteNumber("cached_bytes", s.CachedBytes);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>The host is process 1; each GPU a process of its own.</summary>
    private static int Pid(Device d) => d.IsCpu ? 1 : 2 + d.Index;

    // Exact decimals: ts and dur are whole nanoseconds over 1000, so a child's [ts, ts + dur] never rounds out of its parent's.
    private static decimal Micros(long ns) => ns / 1000m;

    private static void Metadata(Utf8JsonWriter w, string name, int pid, int tid, string value)
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        w.WriteString("ph", "M");
        w.WriteNumber("pid", pid);
        w.WriteNumber("tid", tid);
        w.WriteStartObject("args");
        w.WriteString("name", value);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void Complete(Utf8JsonWriter w, ProfileEvent e)
    {
        w.WriteStartObject();
        w.WriteString("name", e.Name);
        w.WriteString("cat", e.Kind.ToString().ToLowerInvariant());
        w.WriteString("ph", "X");
        w.WriteNumber("ts", Micros(e.StartNs));
        w.WriteNumber("dur", Micros(e.DurationNs));
        // Host-side ranges share the thread's track whatever device their tensors are on.
        w.WriteNumber("pid", e.Kind == ProfileKind.Kernel ? Pid(e.Device) : 1);
        w.WriteNumber("tid", e.Stream);
        w.WriteStartObject("args");
        w.WriteString("phase", e.Phase.ToString().ToLowerInvariant());
        w.WriteString("device", e.Device.ToString());
        if (e.Module is not null)
            w.WriteString("module", e.Module);
        if (e.Shapes is not null)
            w.WriteString("shapes", e.Shapes);
        if (e.DType is { } dt)
            w.WriteString("dtype", dt.TorchName());
        if (e.Flops is { } f)
            w.WriteNumber("flops", f);
        if (e.BytesMoved is { } b)
            w.WriteNumber("bytes", b);
        if (e.BytesAllocated != 0)
            w.WriteNumber("bytes_allocated", e.BytesAllocated);
        if (e.MinorFaults != 0)
            w.WriteNumber("minor_faults", e.MinorFaults);
        if (e.MajorFaults != 0)
            w.WriteNumber("major_faults", e.MajorFaults);
        if (e.SystemNs != 0)
            w.WriteNumber("system_us", Micros(e.SystemNs));
        if (e.ParallelNs != 0)
        {
            w.WriteNumber("parallel_us", Micros(e.ParallelNs));
            w.WriteNumber("thread_busy_us", Micros(e.ThreadBusyNs));
            w.WriteNumber("thread_capacity_us", Micros(e.ThreadCapacityNs));
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
