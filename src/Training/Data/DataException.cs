namespace RawLongLoRA.Training;

/// <summary>
/// Training data that is missing or cannot be used: one line, "file:line: field: message", naming the
/// file, the 1-based line (jsonl) and the JSON field where there is one, so a user can fix the record.
/// </summary>
public sealed class DataException : Exception
{
    public DataException(string file, int? line, string? field, string message, Exception? inner = null)
        : base(Format(file, line, field, message), inner)
    {
        File = file;
        Line = line;
        Field = field;
    }

    public string File { get; }

    public int? Line { get; }

    public string? Field { get; }

    private static string Format(string file, int? line, string? field, string message) =>
        (line is int l ? $"{file}:{l}: " : $"{file}: ") + (field is null ? message : $"{field}: {message}");
}
