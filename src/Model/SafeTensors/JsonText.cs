using System.Text.Json;
using System.Text.Unicode;

namespace RawLongLoRA.Model;

/// <summary>JSON from a checkpoint file, parsed strictly (no comments, no trailing commas); bad text throws naming the file.</summary>
internal static class JsonText
{
    public static JsonDocument Parse(string file, ReadOnlySpan<byte> utf8, string what)
    {
        if (!Utf8.IsValid(utf8))
            throw new SafeTensorsException(file, null, "utf8", $"the {what} is not valid UTF-8");
        try
        {
            return JsonDocument.Parse(utf8.ToArray());
        }
        catch (JsonException e)
        {
            throw new SafeTensorsException(file, null, "json", $"the {what} is not valid JSON ({e.Message})");
        }
    }

    /// <summary>"object", "array", "string", "number", ... for messages.</summary>
    public static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();
}
