using System.Text.Json;
using static RawLongLoRA.Model.TokenizerFile;

namespace RawLongLoRA.Model;

/// <summary>
/// Reads a Hugging Face tokenizer.json: the BPE vocabulary and merges (written "a b" or ["a", "b"]),
/// its flags (byte_fallback, fuse_unk, ignore_merges), the added tokens, and which of the two BPE
/// families the normalizer / pre-tokenizer describe. Anything outside those families is refused
/// with the field named rather than tokenized differently from Hugging Face.
/// </summary>
internal static class TokenizerJson
{
    /// <summary>GPT-2's split regex, which a ByteLevel pre-tokenizer with use_regex applies.</summary>
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public static TokenizerSource Read(string path)
    {
        using var f = TokenizerFile.Read(path);
        var model = f.Require(f.Root, "model", "model", JsonValueKind.Object);
        string? type = f.OptionalString(model, "type", "model.type");
        if (type != "BPE")
            throw f.Error("model.type", $"is {(type is null ? "missing" : Quote(type))}; expected 'BPE' (the model of Llama, Mistral and Qwen tokenizers)");
        foreach (string affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (f.OptionalString(model, affix, "model." + affix) is { Length: > 0 } value)
                throw f.Error("model." + affix, $"is {Quote(value)}; only BPE without word affixes is supported");

        var vocab = ReadVocabulary(f, model);
        var added = ReadAddedTokens(f);
        var (nfc, prepend, replaceSpace) = ReadNormalizer(f);
        var (pattern, byteLevel, metaspace) = ReadPreTokenizer(f);
        bool byteFallback = f.OptionalBool(model, "byte_fallback", "model.byte_fallback") ?? false;
        bool ignoreMerges = f.OptionalBool(model, "ignore_merges", "model.ignore_merges") ?? false;
        var merges = ReadMerges(f, model, vocab);
        string? templateBos = ReadTemplateBos(f);
        int size = Math.Max(vocab.Values.DefaultIfEmpty(-1).Max(), added.Select(t => t.Id).DefaultIfEmpty(-1).Max()) + 1;

        if (byteLevel)
        {
            if (prepend || replaceSpace || metaspace is not null)
                throw f.Error("normalizer", "mixes byte-level BPE with SentencePiece's '▁' spaces; expected one of the two");
            var bytes = new byte[size][];
            foreach (var (token, id) in vocab)
                bytes[id] = ByteLevelAlphabet.TryDecode(token, out var b)
                    ? b
                    : throw f.Error("model.vocab", $"token {Quote(token)} is not written in the byte-level alphabet");
            var bpe = new ByteLevelBpe(vocab, ByteIds(f, bytes), merges, pattern!, ignoreMerges);
            return new TokenizerSource(path, TokenizerKind.ByteLevel, bpe, vocab, Fill(bytes), added, nfc, false, templateBos, null);
        }

        if (pattern is not null)
            throw f.Error("pre_tokenizer", "has a Split regex but no ByteLevel step; only byte-level BPE splits by regex here");
        SpaceMarking marking = metaspace is not null && !prepend && !replaceSpace ? metaspace
            : metaspace is null && replaceSpace ? new SpaceMarking(prepend, false, false)
            : throw f.Error("normalizer", "expected a byte-level BPE (pre_tokenizer ByteLevel) or SentencePiece's spaces as '▁' " +
                                          "(normalizer Replace ' ' → '▁', or pre_tokenizer Metaspace)");
        var pieces = new byte[size][];
        foreach (var (token, id) in vocab)
            pieces[id] = SpaceMarking.PieceBytes(token, byteFallback);
        var sentencePiece = new SentencePieceBpe(vocab, merges, f.OptionalString(model, "unk_token", "model.unk_token"), byteFallback,
                                                 f.OptionalBool(model, "fuse_unk", "model.fuse_unk") ?? false, ignoreMerges, marking);
        return new TokenizerSource(path, TokenizerKind.SentencePiece, sentencePiece, vocab, Fill(pieces), added, nfc, marking.Prepend, templateBos, null);
    }

    private static Dictionary<string, int> ReadVocabulary(TokenizerFile f, JsonElement model)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in f.Require(model, "vocab", "model.vocab", JsonValueKind.Object).EnumerateObject())
            vocab[entry.Name] = f.Int(entry.Value, $"model.vocab[{Quote(entry.Name)}]");
        return vocab;
    }

    private static List<AddedToken> ReadAddedTokens(TokenizerFile f)
    {
        var tokens = new List<AddedToken>();
        if (Find(f.Root, "added_tokens") is not { } array)
            return tokens;
        int i = 0;
        foreach (var t in f.Expect(array, "added_tokens", JsonValueKind.Array).EnumerateArray())
        {
            string field = $"added_tokens[{i++}]";
            f.Expect(t, field, JsonValueKind.Object);
            if (f.OptionalBool(t, "single_word", field + ".single_word") == true)
                throw f.Error(field + ".single_word", "is true; added tokens that match only whole words are not supported");
            tokens.Add(new AddedToken(
                f.Int(f.Require(t, "id", field + ".id", JsonValueKind.Number), field + ".id"),
                f.Require(t, "content", field + ".content", JsonValueKind.String).GetString()!,
                f.OptionalBool(t, "special", field + ".special") ?? false,
                f.OptionalBool(t, "lstrip", field + ".lstrip") ?? false,
                f.OptionalBool(t, "rstrip", field + ".rstrip") ?? false));
        }
        return tokens;
    }

    private static (bool Nfc, bool Prepend, bool ReplaceSpace) ReadNormalizer(TokenizerFile f)
    {
        bool nfc = false, prepend = false, replaceSpace = false;
        foreach (var (n, field) in Steps(f, "normalizer", "normalizers"))
        {
            string? type = f.OptionalString(n, "type", field + ".type");
            if (type == "NFC")
                nfc = true;
            else if (type == "Prepend" && f.OptionalString(n, "prepend", field + ".prepend") == "\u2581")
                prepend = true;
            else if (type == "Replace" && Find(n, "pattern") is { } p && f.OptionalString(p, "String", field + ".pattern.String") == " "
                     && f.OptionalString(n, "content", field + ".content") == "\u2581")
                replaceSpace = true;
            else
                throw f.Error(field, $"normalizer {Quote(type ?? "?")} is not supported (NFC is, and the Prepend / Replace '▁' of SentencePiece conversions)");
        }
        return (nfc, prepend, replaceSpace);
    }

    private static (string? Pattern, bool ByteLevel, SpaceMarking? Metaspace) ReadPreTokenizer(TokenizerFile f)
    {
        string? pattern = null;
        bool byteLevel = false;
        SpaceMarking? metaspace = null;
        foreach (var (p, field) in Steps(f, "pre_tokenizer", "pretokenizers"))
        {
            switch (f.OptionalString(p, "type", field + ".type"))
            {
                case "Split":
                    if (pattern is not null)
                        throw f.Error(field, "a second Split regex; only one is supported");
                    if (f.OptionalString(p, "behavior", field + ".behavior") != "Isolated" || f.OptionalBool(p, "invert", field + ".invert") == true)
                        throw f.Error(field, "expected behavior 'Isolated' and invert false (each match a piece)");
                    pattern = Find(p, "pattern") is { } pat ? f.OptionalString(pat, "Regex", field + ".pattern.Regex") : null;
                    if (pattern is null)
                        throw f.Error(field + ".pattern", "expected {\"Regex\": ...}");
                    break;
                case "ByteLevel":
                    byteLevel = true;
                    if (f.OptionalBool(p, "add_prefix_space", field + ".add_prefix_space") == true)
                        throw f.Error(field + ".add_prefix_space", "is true; only byte-level BPE without an added leading space is supported");
                    if (f.OptionalBool(p, "use_regex", field + ".use_regex") ?? true)
                    {
                        if (pattern is not null)
                            throw f.Error(field + ".use_regex", "is true after a Split regex; only one regex split is supported");
                        pattern = Gpt2Pattern;
                    }
                    break;
                case "Metaspace":
                    if (f.OptionalString(p, "replacement", field + ".replacement") != "\u2581" || (f.OptionalBool(p, "split", field + ".split") ?? true))
                        throw f.Error(field, "expected replacement '▁' and split false, as Llama / Mistral conversions have");
                    string scheme = f.OptionalString(p, "prepend_scheme", field + ".prepend_scheme")
                                    ?? (f.OptionalBool(p, "add_prefix_space", field + ".add_prefix_space") ?? true ? "always" : "never");
                    metaspace = scheme is "always" or "first" or "never"
                        ? new SpaceMarking(scheme != "never", scheme == "first", true)
                        : throw f.Error(field + ".prepend_scheme", $"is {Quote(scheme)}; expected always, first or never");
                    break;
                case var type:
                    throw f.Error(field, $"pre-tokenizer {Quote(type ?? "?")} is not supported (Split + ByteLevel and Metaspace are)");
            }
        }
        if (byteLevel && pattern is null)
            throw f.Error("pre_tokenizer", "ByteLevel without a split regex; expected a Split step or use_regex true");
        return (pattern, byteLevel, metaspace);
    }

    /// <summary>The special token a TemplateProcessing post-processor puts before the text (the BOS), if any.</summary>
    private static string? ReadTemplateBos(TokenizerFile f)
    {
        string? bos = null;
        foreach (var (p, field) in Steps(f, "post_processor", "processors"))
        {
            switch (f.OptionalString(p, "type", field + ".type"))
            {
                case "TemplateProcessing":
                    var single = f.Require(p, "single", field + ".single", JsonValueKind.Array);
                    if (single.GetArrayLength() > 0 && Find(single[0], "SpecialToken") is { } special)
                        bos = f.Require(special, "id", field + ".single[0].SpecialToken.id", JsonValueKind.String).GetString();
                    break;
                case "ByteLevel":
                    break;
                case var type:
                    throw f.Error(field, $"post-processor {Quote(type ?? "?")} is not supported (TemplateProcessing and ByteLevel are)");
            }
        }
        return bos;
    }

    /// <summary>The merge list as a table, ranked by its order; each merge's two tokens and the token they make must be in the vocabulary.</summary>
    private static BpeMerges ReadMerges(TokenizerFile f, JsonElement model, Dictionary<string, int> vocab)
    {
        var merges = new BpeMerges();
        int rank = 0;
        foreach (var m in f.Require(model, "merges", "model.merges", JsonValueKind.Array).EnumerateArray())
        {
            var (left, right) = Merge(f, m, rank);
            int Id(string token, string role) => vocab.TryGetValue(token, out int id) ? id
                : throw f.Error($"model.merges[{rank}]", $"{role} {Quote(token)}, which is not in model.vocab");
            merges.Set(Id(left, "has"), Id(right, "has"), rank, Id(left + right, "makes"));
            rank++;
        }
        return merges;
    }

    /// <summary>The token of each byte: byte-level BPE starts from single bytes, so a byte without one could not be encoded.</summary>
    private static int[] ByteIds(TokenizerFile f, byte[]?[] bytes)
    {
        var ids = new int[256];
        Array.Fill(ids, -1);
        for (int id = 0; id < bytes.Length; id++)
            if (bytes[id] is [var only] && ids[only] < 0)
                ids[only] = id;
        int missing = Array.IndexOf(ids, -1);
        if (missing >= 0)
            throw f.Error("model.vocab", $"has no token for byte 0x{missing:X2} ({ids.Count(x => x < 0)} of the 256 bytes are missing); " +
                                         "a byte-level vocabulary has one token per byte");
        return ids;
    }

    private static (string Left, string Right) Merge(TokenizerFile f, JsonElement m, int i)
    {
        if (m.ValueKind == JsonValueKind.String)
        {
            var parts = m.GetString()!.Split(' ');
            if (parts.Length == 2)
                return (parts[0], parts[1]);
        }
        else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2
                 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
        {
            return (m[0].GetString()!, m[1].GetString()!);
        }
        throw f.Error($"model.merges[{i}]", $"expected \"a b\" or [\"a\", \"b\"], found {Quote(m.GetRawText())}");
    }

    /// <summary>The steps of a normalizer / pre-tokenizer / post-processor: itself, or the members of its Sequence.</summary>
    private static List<(JsonElement Step, string Field)> Steps(TokenizerFile f, string key, string sequenceKey)
    {
        var steps = new List<(JsonElement, string)>();
        if (Find(f.Root, key) is not { } step)
            return steps;
        f.Expect(step, key, JsonValueKind.Object);
        if (f.OptionalString(step, "type", key + ".type") != "Sequence")
        {
            steps.Add((step, key));
            return steps;
        }
        int i = 0;
        foreach (var s in f.Require(step, sequenceKey, $"{key}.{sequenceKey}", JsonValueKind.Array).EnumerateArray())
        {
            string field = $"{key}.{sequenceKey}[{i++}]";
            steps.Add((f.Expect(s, field, JsonValueKind.Object), field));
        }
        return steps;
    }

    /// <summary>Ids the vocabulary skips decode to nothing.</summary>
    private static byte[][] Fill(byte[][] bytes)
    {
        for (int i = 0; i < bytes.Length; i++)
            bytes[i] ??= [];
        return bytes;
    }
}
