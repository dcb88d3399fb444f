using System.Globalization;
using System.Text;

namespace RawLongLoRA.Profiling;

// The summary as text: the table, then modules, threads, page faults and memory, each a few lines.
public sealed partial class ProfileSummary
{
    /// <summary>The summary as plain text; <paramref name="maxRows"/> limits the table and module rows (null: all).</summary>
    public string Format(int? maxRows = 30)
    {
        var s = new StringBuilder();
        string what = Within is null ? "the whole recording" : $"{Scopes} '{Within}' scope{(Scopes == 1 ? "" : "s")} ({Ms(WallNs / (double)Math.Max(1, Scopes))} ms each)";
        s.AppendLine($"Profile of {what}{(ByShape ? ", by input shape" : "")}: wall time {Ms(WallNs)} ms; the rows' self times sum to {Ms(SelfTotalNs)} ms ({Percent(SelfTotalNs, WallNs)})");
        if (StoppedFullAtNs is { } full)
            s.AppendLine($"(recording stopped by itself {Ms(full)} ms in, having recorded its most events; what came later is not here)");
        var table = new List<string[]>
        {
            new[] { "name", "calls", "total ms", "self ms", "self %", "mean ms", "GFLOP/s", "GB/s", "alloc MiB", "faults", "sys ms", "1-thread %", "busy %" },
        };
        foreach (var r in Limit(Rows, maxRows))
            table.Add(
            [
                r.Name, Int(r.Calls), Ms(r.TotalNs), Ms(r.SelfNs), Percent(r.SelfNs, WallNs), Ms(r.MeanNs),
                Number(r.GflopsPerSecond), Number(r.GBytesPerSecond), r.BytesAllocated == 0 ? "" : Mib(r.BytesAllocated),
                r.MinorFaults + r.MajorFaults == 0 ? "" : Int(r.MinorFaults + r.MajorFaults), r.SystemNs == 0 ? "" : Ms(r.SystemNs),
                r.SelfNs <= 0 ? "" : Percent(r.SingleThreadedNs, r.SelfNs), r.ThreadCapacityNs == 0 ? "" : Percent(r.ThreadBusyNs, r.ThreadCapacityNs),
            ]);
        Table(s, table);
        More(s, Rows.Count, maxRows, Rows.Skip(maxRows ?? Rows.Count).Sum(r => r.SelfNs));

        if (GpuRows.Count > 0)
        {
            s.AppendLine();
            s.AppendLine("GPU kernels (time on the GPU's stream, from its events; the table above has their host calls):");
            var g = new List<string[]> { new[] { "name", "calls", "total ms", "mean ms", "GFLOP/s", "GB/s" } };
            foreach (var r in Limit(GpuRows, maxRows))
                g.Add([r.Name, Int(r.Calls), Ms(r.TotalNs), Ms(r.MeanNs), Number(r.GflopsPerSecond), Number(r.GBytesPerSecond)]);
            Table(s, g);
            More(s, GpuRows.Count, maxRows, 0);
        }

        if (Modules.Count > 0)
        {
            s.AppendLine();
            s.AppendLine("Modules (layer indices as *; a module's time includes its children's):");
            var m = new List<string[]> { new[] { "module", "calls", "forward ms", "recompute ms", "backward ms", "total %", "GFLOP/s" } };
            foreach (var r in Limit(Modules, maxRows))
                m.Add([r.Name, Int(r.Calls), Ms(r.ForwardNs), Ms(r.RecomputeNs), Ms(r.BackwardNs), Percent(r.TotalNs, WallNs), Number(r.TotalNs > 0 && r.Flops > 0 ? r.Flops / r.TotalNs : null)]);
            Table(s, m);
            More(s, Modules.Count, maxRows, 0);
        }

        s.AppendLine();
        long parallel = Rows.Sum(r => r.ParallelNs), busy = Rows.Sum(r => r.ThreadBusyNs), capacity = Rows.Sum(r => r.ThreadCapacityNs);
        s.AppendLine($"Threads: {Ms(parallel)} ms ({Percent(parallel, WallNs)}) of the wall time in parallel loops, where the threads were busy {Percent(busy, capacity)} of their time "
                     + $"(idle {Ms(capacity - busy)} thread-ms: hand-offs and waiting for the slowest chunk); {Ms(WallNs - parallel)} ms ({Percent(WallNs - parallel, WallNs)}) on one thread, most in: "
                     + string.Join(", ", Rows.OrderByDescending(r => r.SingleThreadedNs).Take(5).Select(r => $"{r.Name} {Ms(r.SingleThreadedNs)} ms")));

        long minor = Rows.Sum(r => r.MinorFaults), major = Rows.Sum(r => r.MajorFaults), system = Rows.Sum(r => r.SystemNs);
        string all = RecordingPageFaults is { } f ? $" (of {Int(f.Minor)} minor, {Int(f.Major)} major in the whole recording)" : "";
        s.AppendLine($"In kernels, OS CPU time: {Ms(system)} thread-ms ({Percent(system, WallNs)} of the wall time; page faults and thread wake-ups); page faults: {Int(minor)} minor, {Int(major)} major{all}"
                     + (minor + major == 0 ? "" : "; most in: " + string.Join(", ", Rows.Where(r => r.MinorFaults + r.MajorFaults > 0)
                         .OrderByDescending(r => r.MinorFaults + r.MajorFaults).Take(5).Select(r => $"{r.Name} {Int(r.MinorFaults + r.MajorFaults)} ({Ms(r.SystemNs)} ms)"))));

        foreach (var peak in Memory)
        {
            s.AppendLine($"Memory on {peak.Device}: peak {Mib(peak.PeakBytes)} MiB of tensors at {Ms(peak.AtNs)} ms into the recording; {Mib(peak.BeforeRecordingBytes)} MiB of it made before recording "
                         + $"(weights, optimizer state), {peak.AliveCount} storages made while recording; the largest:");
            var t = new List<string[]> { new[] { "MiB", "shape", "dtype", "made by", "module" } };
            foreach (var a in peak.Largest)
                t.Add([Mib(a.Bytes), a.Shape ?? "", a.DType?.TorchName() ?? "", a.Phase == ProfilePhase.Forward ? a.MadeBy : $"{a.MadeBy} ({a.Phase.ToString().ToLowerInvariant()})", a.Module ?? ""]);
            Table(s, t);
        }
        return s.ToString();
    }

    private static IEnumerable<T> Limit<T>(IReadOnlyList<T> rows, int? max) => max is { } m ? rows.Take(m) : rows;

    private static void More(StringBuilder s, int count, int? max, long selfNs)
    {
        if (max is { } m && count > m)
            s.AppendLine($"... {count - m} more rows" + (selfNs > 0 ? $" ({Ms(selfNs)} ms of self time)" : "") + " in the file");
    }

    /// <summary>Left-aligned first column, right-aligned numbers, two spaces between.</summary>
    private static void Table(StringBuilder s, List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var r in rows)
            s.AppendLine(string.Join("  ", r.Select((cell, c) => c == 0 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd());
    }

    private static string Ms(double ns) => (ns / 1e6).ToString(ns >= 1e8 ? "F0" : ns >= 1e6 ? "F1" : "F3", CultureInfo.InvariantCulture);

    private static string Mib(long bytes) => (bytes / (double)(1 << 20)).ToString("F1", CultureInfo.InvariantCulture);

    private static string Int(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Number(double? x) => x is not { } v ? "" : v.ToString(v >= 100 ? "F0" : v >= 10 ? "F1" : "F2", CultureInfo.InvariantCulture);

    private static string Percent(long part, long whole) => whole <= 0 ? "" : (100.0 * part / whole).ToString("F1", CultureInfo.InvariantCulture) + "%";
}
