using System.Text;
using System.Text.Json;

namespace RawLongLoRA.Training;

/// <summary>
/// A jsonl file (strict UTF-8) read one object a line (blank lines skipped), with string fields taken out by name;
/// every fault is a <see cref="DataException"/> naming the file, the line and the field.
/// </summary>
internal static class JsonLines
{
    /// <summary>The objects of <paramref name="file"/>; each record is valid only until the next is read.</summary>
    public static IEnumerable<JsonRecord> Read(string file)
    {
        int line = 0;
        foreach (string text in Utf8Text.ReadLines(file))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
                continue;
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(text);
            }
            catch (JsonException e)
            {
                throw new DataException(file, line, null, $"malformed JSON: {e.Message}", e);
            }
            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                    throw new DataException(file, line, null, $"expected a JSON object, got {document.RootElement.ValueKind}");
                yield return new JsonRecord(file, line, Encoding.UTF8.GetByteCount(text) + 1, document.RootElement);
            }
        }
    }
}

/// <summary>One object of a jsonl file, where it was read, and the bytes its line takes (newline included).</summary>
internal readonly record struct JsonRecord(string File, int Line, int Bytes, JsonElement Object)
{
    public string String(string field) =>
        OptionalString(field) ?? throw new DataException(File, Line, field, "missing or null; expected a string");

    /// <summary>The field's string, or null where it is absent or JSON null.</summary>
    public string? OptionalString(string field)
    {
        if (!Object.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
            return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString()!
            : throw new DataException(File, Line, field, $"expected a string, got {value.ValueKind}");
    }
}
