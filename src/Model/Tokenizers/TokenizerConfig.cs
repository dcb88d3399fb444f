using System.Text.Json;
using static RawLongLoRA.Model.TokenizerFile;

namespace RawLongLoRA.Model;

/// <summary>
/// The optional files beside the vocabulary: tokenizer_config.json (special tokens, add_bos_token,
/// chat_template, added_tokens_decoder), special_tokens_map.json (special tokens the first lacks),
/// generation_config.json (the ids generation stops at) and chat_template.jinja (newer
/// transformers keep the template there). A file that is present but malformed throws.
/// </summary>
internal sealed class TokenizerConfig
{
    public const string ConfigName = "tokenizer_config.json";

    public string? BosToken { get; private init; }
    public string? EosToken { get; private init; }
    public string? PadToken { get; private init; }
    public string? UnkToken { get; private init; }
    public bool? AddBosToken { get; private init; }
    public string? ChatTemplate { get; private init; }

    /// <summary>The file the chat template came from, for messages.</summary>
    public string ChatTemplateFile { get; private init; } = ConfigName;

    /// <summary>added_tokens_decoder: the added tokens where there is no tokenizer.json to list them.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; private init; } = [];

    public int? GenerationBosId { get; private init; }
    public IReadOnlyList<int> GenerationEosIds { get; private init; } = [];
    public int? GenerationPadId { get; private init; }

    public static TokenizerConfig Read(string dir)
    {
        using var config = TokenizerFile.TryRead(dir, ConfigName);
        using var map = TokenizerFile.TryRead(dir, "special_tokens_map.json");
        using var generation = TokenizerFile.TryRead(dir, "generation_config.json");
        string jinjaPath = Path.Combine(dir, "chat_template.jinja");

        string? Token(string key) => (config is null ? null : config.TokenText(config.Root, key)) ?? map?.TokenText(map.Root, key);
        int? GenerationId(string key) => generation is not null && Find(generation.Root, key) is { } v ? generation.Int(v, key) : null;

        var (template, templateFile) = File.Exists(jinjaPath)
            ? (File.ReadAllText(jinjaPath), jinjaPath)
            : (config is null ? null : ReadChatTemplate(config), config?.Path ?? ConfigName);
        return new TokenizerConfig
        {
            BosToken = Token("bos_token"),
            EosToken = Token("eos_token"),
            PadToken = Token("pad_token"),
            UnkToken = Token("unk_token"),
            AddBosToken = config?.OptionalBool(config.Root, "add_bos_token", "add_bos_token"),
            ChatTemplate = template,
            ChatTemplateFile = templateFile,
            AddedTokens = config is null ? [] : ReadAddedTokensDecoder(config),
            GenerationBosId = GenerationId("bos_token_id"),
            GenerationEosIds = generation is null ? [] : ReadIds(generation, "eos_token_id"),
            GenerationPadId = GenerationId("pad_token_id"),
        };
    }

    /// <summary>A string, or a list of {name, template} of which "default" is the one Hugging Face applies.</summary>
    private static string? ReadChatTemplate(TokenizerFile f)
    {
        switch (Find(f.Root, "chat_template"))
        {
            case null:
                return null;
            case { ValueKind: JsonValueKind.String } s:
                return s.GetString();
            case { ValueKind: JsonValueKind.Array } list:
                foreach (var entry in list.EnumerateArray())
                    if (entry.ValueKind == JsonValueKind.Object && f.OptionalString(entry, "name", "chat_template[].name") == "default")
                        return f.Require(entry, "template", "chat_template[].template", JsonValueKind.String).GetString();
                throw f.Error("chat_template", "a list without a template named 'default'");
            case var other:
                throw f.Error("chat_template", $"expected a string or a list of {{name, template}}, found {Kind(other.Value)}");
        }
    }

    private static List<AddedToken> ReadAddedTokensDecoder(TokenizerFile f)
    {
        var tokens = new List<AddedToken>();
        if (Find(f.Root, "added_tokens_decoder") is not { } decoder)
            return tokens;
        foreach (var entry in f.Expect(decoder, "added_tokens_decoder", JsonValueKind.Object).EnumerateObject())
        {
            string field = $"added_tokens_decoder[{Quote(entry.Name)}]";
            if (!int.TryParse(entry.Name, out int id) || id < 0)
                throw f.Error(field, "expected a token id as the key");
            var t = f.Expect(entry.Value, field, JsonValueKind.Object);
            tokens.Add(new AddedToken(id, f.Require(t, "content", field + ".content", JsonValueKind.String).GetString()!,
                                      f.OptionalBool(t, "special", field + ".special") ?? false,
                                      f.OptionalBool(t, "lstrip", field + ".lstrip") ?? false,
                                      f.OptionalBool(t, "rstrip", field + ".rstrip") ?? false));
        }
        return tokens;
    }

    /// <summary>An id or a list of ids (generation_config's eos_token_id is either).</summary>
    private static List<int> ReadIds(TokenizerFile f, string key) => Find(f.Root, key) switch
    {
        null => [],
        { ValueKind: JsonValueKind.Array } list => list.EnumerateArray().Select((v, i) => f.Int(v, $"{key}[{i}]")).ToList(),
        { } v => [f.Int(v, key)],
    };
}
