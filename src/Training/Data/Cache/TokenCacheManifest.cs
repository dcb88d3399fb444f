using System.Text.Json;
using System.Text.Json.Serialization;

namespace RawLongLoRA.Training;

/// <summary>
/// A token cache's manifest.json: its key and what tokenizing counted. Written last, so a folder
/// whose manifest reads is a complete cache.
/// </summary>
public sealed record TokenCacheManifest(TokenCacheKey Key, long Samples, long Tokens, int Skipped, int TruncatedPrompts, int TruncatedAnswers)
{
    /// <summary>The manifest's file name in a cache folder.</summary>
    public const string FileName = "manifest.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>The counts as <see cref="DataStats"/>, for packing to add to.</summary>
    public DataStats Stats() => new() { Skipped = Skipped, TruncatedPrompts = TruncatedPrompts, TruncatedAnswers = TruncatedAnswers };

    /// <summary>Writes this manifest as <paramref name="dir"/>/manifest.json.</summary>
    public void Write(string dir) => File.WriteAllText(Path.Combine(dir, FileName), JsonSerializer.Serialize(this, Json));

    /// <summary>The manifest of the cache in <paramref name="dir"/>, or null when there is none.</summary>
    public static TokenCacheManifest? TryRead(string dir)
    {
        string path = Path.Combine(dir, FileName);
        if (!File.Exists(path))
            return null;
        try
        {
            return JsonSerializer.Deserialize<TokenCacheManifest>(File.ReadAllText(path), Json) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new DataException(path, null, e.Path, $"not a token cache manifest ({e.Message})", e);
        }
    }
}
