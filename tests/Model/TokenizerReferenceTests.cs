using System.Text.Json;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The real Llama 2 (Mistral's vocabulary), Llama 3 and Qwen3 tokenizers against ids, text and chat
/// strings from a second implementation (expected_ids.json: @lenml/tokenizers, and jinja2 for the
/// templates), over a text set of code, CJK, emoji, whitespace runs, NFD accents and special tokens.
/// </summary>
public class TokenizerReferenceTests
{
    public static TheoryData<string> Models => ["llama2", "llama3", "qwen3"];

    private static ExpectedIds Expected => TokenizerFixtures.Expected;

    [Theory, MemberData(nameof(Models))]
    public void Ids_equal_the_reference(string model)
    {
        var tokenizer = TokenizerFixtures.Real(model);
        var ids = Expected.Models[model];
        AllEqual(i => ids.Ids[i], i => tokenizer.Encode(Expected.Texts[i], addBos: false));
        AllEqual(i => ids.IdsWithBos[i], i => tokenizer.Encode(Expected.Texts[i]));
    }

    /// <summary>A fresh tokenizer, so that the threads fill its word cache together.</summary>
    [Theory, MemberData(nameof(Models))]
    public void Ids_are_the_same_from_several_threads_at_once(string model)
    {
        var tokenizer = Tokenizer.Load(TokenizerFixtures.RealDir(model));
        int texts = Expected.Texts.Length;
        var ids = new int[8 * texts][];
        Parallel.For(0, ids.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => ids[i] = tokenizer.Encode(Expected.Texts[i % texts], addBos: false));
        AllEqual(i => Expected.Models[model].Ids[i % texts], i => ids[i], count: ids.Length);
    }

    [Theory, MemberData(nameof(Models))]
    public void Decode_equals_the_reference_and_gives_the_text_back(string model)
    {
        var tokenizer = TokenizerFixtures.Real(model);
        var ids = Expected.Models[model];
        AllEqual(i => ids.Decoded[i], i => tokenizer.Decode(ids.Ids[i]));
        // Qwen normalises to NFC; Llama 2 decodes "x<s>y" as "x<s> y" (its '▁' goes before every stretch of text).
        AllEqual(i => model == "qwen3" ? Nfc.Normalize(Expected.Texts[i]) : Expected.Texts[i],
                 i => tokenizer.Decode(tokenizer.Encode(Expected.Texts[i], addBos: false)),
                 i => model != "llama2" || !Expected.Texts[i].Contains("<s>"));
    }

    [Theory, MemberData(nameof(Models))]
    public void Chat_templates_equal_what_the_models_templates_render(string model)
    {
        var tokenizer = TokenizerFixtures.Real(model);
        AllEqual(i => Expected.Models[model].Chats[i],
                 i => tokenizer.ApplyChatTemplate(Expected.Chats[i].Messages, Expected.Chats[i].AddGenerationPrompt),
                 count: Expected.Chats.Length);
    }

    [Theory]
    [InlineData("llama2", TokenizerKind.SentencePiece, 32000, 1, 1, new[] { 2 }, null, ChatFormat.Llama2)]
    // This package's Llama 3 tokenizer.json has no BOS in its post-processor, so Hugging Face adds none either.
    [InlineData("llama3", TokenizerKind.ByteLevel, 128256, 128000, null, new[] { 128001 }, null, ChatFormat.Llama3)]
    [InlineData("qwen3", TokenizerKind.ByteLevel, 151669, null, null, new[] { 151645 }, 151643, ChatFormat.ChatML)]
    public void Special_tokens_and_sizes(string model, TokenizerKind kind, int vocabSize, int? bos, int? addedBos, int[] eos, int? pad, ChatFormat format)
    {
        var tokenizer = TokenizerFixtures.Real(model);
        Assert.Equal(kind, tokenizer.Kind);
        Assert.Equal(vocabSize, tokenizer.VocabSize);
        Assert.Equal(bos, tokenizer.BosId);
        Assert.Equal(addedBos, tokenizer.AddedBosId);
        Assert.Equal(eos, tokenizer.EosIds);
        Assert.Equal(pad, tokenizer.PadId);
        Assert.Equal(format, tokenizer.ChatFormat);
    }

    /// <summary>
    /// The same vocabulary as a SentencePiece tokenizer.model (scores from the merge order), in a
    /// folder without tokenizer.json. SentencePiece merges by the score of the piece made, leftmost
    /// first, Hugging Face by merge rank: they split runs ("aaaa", spaces) differently, so only
    /// texts without runs are compared.
    /// </summary>
    [Fact]
    public void A_tokenizer_model_of_the_same_vocabulary_gives_the_same_ids()
    {
        using var dir = new TokenizerTempDir();
        var (pieces, scores) = PiecesOf(Path.Combine(TokenizerFixtures.RealDir("llama2"), "tokenizer.json"));
        TokenizerModelWriter.Write(dir.File("tokenizer.model"),
            pieces.Select((p, id) => new TokenizerModelWriter.Piece(p, scores.GetValueOrDefault(p),
                p == "<unk>" ? TokenizerModelWriter.PieceType.Unknown
                : p is "<s>" or "</s>" ? TokenizerModelWriter.PieceType.Control
                : p.StartsWith("<0x") && p.Length == 6 ? TokenizerModelWriter.PieceType.Byte
                : TokenizerModelWriter.PieceType.Normal)).ToList());
        var fromModel = Tokenizer.Load(dir.Path);
        Assert.Equal(TokenizerKind.SentencePiece, fromModel.Kind);
        Assert.Equal(1, fromModel.AddedBosId);
        var ids = Expected.Models["llama2"];
        AllEqual(i => ids.IdsWithBos[i], i => fromModel.Encode(Expected.Texts[i]),
                 i => !HasRun(Expected.Texts[i]));
        AllEqual(i => ids.Decoded[i], i => fromModel.Decode(ids.Ids[i]));
    }

    private static bool HasRun(string text) => Enumerable.Range(1, Math.Max(0, text.Length - 1)).Any(i =>
        char.IsWhiteSpace(text[i - 1]) && char.IsWhiteSpace(text[i]) || i + 1 < text.Length && text[i - 1] == text[i] && text[i] == text[i + 1]);

    private static (string[] Pieces, Dictionary<string, float> Scores) PiecesOf(string tokenizerJson)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(tokenizerJson));
        var model = doc.RootElement.GetProperty("model");
        var vocab = model.GetProperty("vocab").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        var pieces = new string[vocab.Count];
        foreach (var (piece, id) in vocab)
            pieces[id] = piece;
        // SentencePiece merges the pair that makes the highest-scored piece first: the first merge scores highest.
        var scores = new Dictionary<string, float>();
        int rank = 0;
        foreach (var merge in model.GetProperty("merges").EnumerateArray())
            scores.TryAdd(merge.GetString()!.Replace(" ", ""), -rank++);
        return (pieces, scores);
    }

    /// <summary>Compares every text (or chat) at once, so that a failure lists all that differ.</summary>
    private static void AllEqual<T>(Func<int, T> expected, Func<int, T> actual, Func<int, bool>? where = null, int? count = null)
    {
        var wrong = new List<string>();
        for (int i = 0; i < (count ?? Expected.Texts.Length); i++)
        {
            if (where is not null && !where(i))
                continue;
            T e = expected(i), a = actual(i);
            if (!JsonSerializer.Serialize(e).Equals(JsonSerializer.Serialize(a)))
                wrong.Add($"#{i} {JsonSerializer.Serialize(count is null ? Expected.Texts[i] : "")}\n  expected {JsonSerializer.Serialize(e)}\n  actual   {JsonSerializer.Serialize(a)}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }
}
