using System.Text.Json;
using System.Text.Json.Serialization;

namespace RawLongLoRA.Training;

/// <summary>
/// metrics.jsonl in a run's output folder: one <see cref="StepLog"/> a line as a snake_case JSON
/// object, appended and flushed as each is written, so a resumed run continues the same file and a
/// killed one keeps every step it logged.
/// </summary>
internal sealed class MetricsLog : IDisposable
{
    public const string FileName = "metrics.jsonl";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly StreamWriter _writer;

    public MetricsLog(string path) => _writer = new StreamWriter(path, append: true);

    public void Write(StepLog step)
    {
        _writer.WriteLine(JsonSerializer.Serialize(step, Json));
        _writer.Flush();
    }

    /// <summary>
    /// The steps of a metrics.jsonl in step order. Where a step was logged twice (a file from before
    /// resumed runs cut it back, <see cref="KeepUpTo"/>), the later line wins.
    /// </summary>
    public static IReadOnlyList<StepLog> Read(string path) => File.ReadLines(path)
        .Select((line, i) => (Line: line, Number: i + 1))
        .Where(l => !string.IsNullOrWhiteSpace(l.Line))
        .Select(l => Parse(path, l.Number, l.Line))
        .GroupBy(s => s.Step)
        .Select(g => g.Last())
        .OrderBy(s => s.Step)
        .ToList();

    /// <summary>
    /// Drops the lines of steps after <paramref name="step"/> (a resumed run does them again), written to
    /// a temporary file and renamed so a kill leaves the old file or the new one.
    /// </summary>
    public static void KeepUpTo(string path, int step)
    {
        if (!File.Exists(path))
            return;
        var lines = File.ReadLines(path).Select((line, i) => (Line: line, Number: i + 1)).Where(l => !string.IsNullOrWhiteSpace(l.Line)).ToList();
        var kept = lines.Where(l => Parse(path, l.Number, l.Line).Step <= step).Select(l => l.Line).ToList();
        if (kept.Count == lines.Count)
            return;
        string temp = path + ".tmp";
        File.WriteAllLines(temp, kept);
        File.Move(temp, path, overwrite: true);
    }

    private static StepLog Parse(string path, int number, string line)
    {
        try
        {
            return JsonSerializer.Deserialize<StepLog>(line, Json) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path}:{number}: not a step record ({e.Message})", e);
        }
    }

    public void Dispose() => _writer.Dispose();
}
