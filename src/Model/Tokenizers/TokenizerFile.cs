using System.Text.Json;

namespace RawLongLoRA.Model;

/// <summary>
/// One JSON file of a tokenizer (tokenizer.json, tokenizer_config.json, ...), parsed strictly, with
/// reads that throw a <see cref="TokenizerException"/> naming the file and the field.
/// </summary>
internal sealed class TokenizerFile : IDisposable
{
    private readonly JsonDocument _doc;

    private TokenizerFile(string path, JsonDocument doc)
    {
        Path = path;
        _doc = doc;
    }

    public string Path { get; }

    public JsonElement Root => _doc.RootElement;

    /// <summary>The file in <paramref name="dir"/>, or null when it is not there.</summary>
    public static TokenizerFile? TryRead(string dir, string name)
    {
        string path = System.IO.Path.Combine(dir, name);
        return File.Exists(path) ? Read(path) : null;
    }

    public static TokenizerFile Read(string path)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new TokenizerException(path, null, $"not valid JSON ({e.Message})");
        }
        catch (IOException e)
        {
            throw new TokenizerException(path, null, $"cannot be read ({e.Message})");
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            string found = Kind(doc.RootElement);
            doc.Dispose();
            throw new TokenizerException(path, null, $"expected a JSON object, found {found}");
        }
        return new TokenizerFile(path, doc);
    }

    public void Dispose() => _doc.Dispose();

    public TokenizerException Error(string? field, string message) => new(Path, field, message);

    /// <summary>obj[key], or null when the key is missing or JSON null (Hugging Face reads both as unset).</summary>
    public static JsonElement? Find(JsonElement obj, string key) =>
        obj.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public JsonElement Require(JsonElement obj, string key, string field, JsonValueKind kind)
    {
        var v = Find(obj, key) ?? throw Error(field, $"missing; expected {KindName(kind)}");
        return Expect(v, field, kind);
    }

    public JsonElement Expect(JsonElement v, string field, JsonValueKind kind) =>
        v.ValueKind == kind ? v : throw Error(field, $"expected {KindName(kind)}, found {Kind(v)}");

    public string? OptionalString(JsonElement obj, string key, string field) =>
        Find(obj, key) is { } v ? Expect(v, field, JsonValueKind.String).GetString() : null;

    public bool? OptionalBool(JsonElement obj, string key, string field) => Find(obj, key) is { } v
        ? v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => throw Error(field, $"expected true or false, found {Kind(v)}") }
        : null;

    public int Int(JsonElement v, string field) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) && i >= 0
            ? i
            : throw Error(field, $"expected a non-negative integer, found {Kind(v)} {Quote(v.GetRawText())}");

    /// <summary>A token written as a string or as an AddedToken object {"content": ...}; null when unset.</summary>
    public string? TokenText(JsonElement obj, string key) => Find(obj, key) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } s => s.GetString(),
        { ValueKind: JsonValueKind.Object } o => Require(o, "content", $"{key}.content", JsonValueKind.String).GetString(),
        { } other => throw Error(key, $"expected a token string or {{\"content\": ...}}, found {Kind(other)}"),
    };

    public static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();

    /// <summary>Text from a file, cut short: a hostile value may be megabytes long.</summary>
    public static string Quote(string s) => s.Length > 60 ? $"'{s[..60]}...'" : $"'{s}'";

    private static string KindName(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
