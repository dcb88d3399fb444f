using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace RawLongLoRA.Bench;

/// <summary>
/// One measurement: what (name, variant), how much (value, unit), and where there is one the peer's
/// figure on the same work in the same run, with ours/peer. Units are "higher is better" rates
/// (GFLOP/s, GB/s, tokens/s), so ratio > 1 means we are faster.
/// </summary>
public sealed record Record(string Name, string? Variant, double Value, string Unit)
{
    public string? Peer { get; init; }
    public double? PeerValue { get; init; }
    public double? Ratio => PeerValue is > 0 ? Value / PeerValue : null;

    /// <summary>Value over the machine's ceiling for this kind of work (peak FLOP/s, memory bandwidth).</summary>
    public double? FractionOfPeak { get; init; }

    public string? Note { get; init; }
}

/// <summary>
/// Collects a verb's records and notes (assumptions, skipped peers), prints them as a table and writes
/// them as JSON with the machine they were measured on.
/// </summary>
public sealed class Report(string verb, Machine machine)
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // keep × and ᵀ readable; the file is never embedded in HTML
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, // a validation's NaN error ("NaN": an output left unwritten)
    };

    private readonly List<Record> _records = [];
    private readonly List<string> _notes = [];

    public Machine Machine => machine;

    /// <summary>The records so far, in the order they were added.</summary>
    public IReadOnlyList<Record> Records => _records;

    /// <summary>The notes so far.</summary>
    public IReadOnlyList<string> Notes => _notes;

    /// <summary>Adds a record and prints it at once, so a long run shows progress.</summary>
    public void Add(Record r)
    {
        _records.Add(r);
        Console.WriteLine($"  {r.Name}{(r.Variant is null ? "" : $" [{r.Variant}]")}: {Format(r.Value)} {r.Unit}"
            + (r.PeerValue is { } p ? $", {r.Peer} {Format(p)} (×{r.Ratio:F2})" : "") + (r.Note is null ? "" : $" — {r.Note}"));
    }

    /// <summary>A line printed now and above the table, and kept in the JSON.</summary>
    public void Note(string line)
    {
        _notes.Add(line);
        Console.WriteLine(line);
    }

    public void PrintTable(TextWriter w)
    {
        if (_records.Count == 0)
            return;
        string[] head = ["name", "variant", "ours", "unit", "peer", "ours/peer", "of peak", "note"];
        var rows = _records.Select(r => new[]
        {
            r.Name,
            r.Variant ?? "",
            Format(r.Value),
            r.Unit,
            r.PeerValue is { } p ? $"{Format(p)} {r.Peer}" : "",
            r.Ratio is { } q ? q.ToString("F2", CultureInfo.InvariantCulture) : "",
            r.FractionOfPeak is { } f ? $"{f * 100:F0}%" : "",
            r.Note ?? "",
        }).ToList();
        var widths = head.Select((h, i) => rows.Max(r => r[i].Length) is var m && m > h.Length ? m : h.Length).ToArray();
        w.WriteLine();
        w.WriteLine($"{verb} on {machine.Summary}");
        foreach (var n in _notes)
            w.WriteLine(n);
        w.WriteLine(Line(head, widths));
        w.WriteLine(Line(widths.Select(x => new string('-', x)).ToArray(), widths));
        foreach (var r in rows)
            w.WriteLine(Line(r, widths));
    }

    public void WriteJson(string path)
    {
        var doc = new { Verb = verb, Machine = machine, Notes = _notes, Records = _records };
        File.WriteAllText(path, JsonSerializer.Serialize(doc, JsonOptions) + "\n");
    }

    /// <summary>Three significant figures: enough for a ratio, no false precision.</summary>
    private static string Format(double v) =>
        v.ToString(Math.Abs(v) >= 100 ? "F0" : Math.Abs(v) >= 10 ? "F1" : "G3", CultureInfo.InvariantCulture);

    // Text columns left-aligned, numbers right-aligned.
    private static string Line(string[] cells, int[] widths) =>
        string.Join("  ", cells.Select((c, i) => i is 2 or 4 or 5 or 6 ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))).TrimEnd();
}
