namespace RawLongLoRA.Training;

/// <summary>
/// Training data that is missing or cannot be used: one line, "file:line: field: message", naming the
/// file, the 1-based line (jsonl) and the JSON field where there is one, so a user can fix the record.
/// </summary>
public sealed class DataException : Exception
{
    /// <summary>
    /// An error in <paramref name="file"/> at 1-based <paramref name="line"/> (jsonl) and JSON
    /// <paramref name="field"/>, where known; the message reads "file:line: field: message".
    /// </summary>
    public DataException(string file, int? line, string? field, string message, Exception? inner = null)
        : base(Format(file, line, field, message), inner)
    {
        File = file;
        Line = line;
        Field = field;
    }

    /// <summary>The data file at fault.</summary>
    public string File { get; }

    /// <summary>The 1-based line of a jsonl file, or null.</summary>
    public int? Line { get; }

    /// <summary>The JSON field at fault, or null.</summary>
    public string? Field { get; }

    private static string Format(string file, int? line, string? field, string message) =>
        (line is int l ? $"{file}:{l}: " : $"{file}: ") + (field is null ? message : $"{field}: {message}");
}
