using System.Text.Json;
using System.Text.Json.Serialization;

namespace RawLongLoRA.Training;

/// <summary>
/// metrics.jsonl in a run's output folder: one <see cref="StepLog"/> a line as a snake_case JSON
/// object, appended and flushed as each is written, so a resumed run continues the same file and a
/// killed one keeps every step it logged.
/// </summary>
public sealed class MetricsLog : IDisposable
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
    /// The steps of a metrics.jsonl in step order. Where a step was logged twice (a run resumed from a
    /// checkpoint older than its last logged step repeats those steps), the later line wins.
    /// </summary>
    public static IReadOnlyList<StepLog> Read(string path) => File.ReadLines(path)
        .Select((line, i) => (Line: line, Number: i + 1))
        .Where(l => !string.IsNullOrWhiteSpace(l.Line))
        .Select(l => Parse(path, l.Number, l.Line))
        .GroupBy(s => s.Step)
        .Select(g => g.Last())
        .OrderBy(s => s.Step)
        .ToList();

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
