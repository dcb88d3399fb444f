using System.Text.Encodings.Web;
using System.Text.Json;

namespace RawLongLoRA.Model;

/// <summary>
/// model.safetensors.index.json, as Hugging Face writes it: {"metadata": {"total_size": N},
/// "weight_map": {tensor name: shard file name}}. Shards are plain file names beside the index; a path
/// that would leave the folder is refused.
/// </summary>
internal static class SafeTensorsIndex
{
    public static void Write(string path, long totalSize, IEnumerable<KeyValuePair<string, string>> weightMap)
    {
        AtomicFile.Write(path, stream =>
        {
            using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            w.WriteStartObject();
            w.WriteStartObject("metadata");
            w.WriteNumber("total_size", totalSize);
            w.WriteEndObject();
            w.WriteStartObject("weight_map");
            foreach (var (name, file) in weightMap.OrderBy(e => e.Key, StringComparer.Ordinal))
                w.WriteString(name, file);
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    /// <summary>The weight map, tensor name → shard file name, validated.</summary>
    public static Dictionary<string, string> Read(string path)
    {
        using var doc = JsonText.Parse(path, File.ReadAllBytes(path), "index");
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsException(path, null, "index", "expected a JSON object with a 'weight_map' object");
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in map.EnumerateObject())
        {
            string? file = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : null;
            if (file is null || file.Length == 0 || file is "." or ".." || file.IndexOfAny(['/', '\\', ':']) >= 0)
                throw new SafeTensorsException(path, p.Name, "index",
                    $"weight_map gives {SafeTensorsException.Quote(file ?? p.Value.GetRawText())}; expected the file name of a shard beside the index");
            if (!weightMap.TryAdd(p.Name, file))
                throw new SafeTensorsException(path, p.Name, "duplicate-key", "weight_map names the tensor twice");
        }
        return weightMap;
    }
}
