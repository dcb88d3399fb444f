using System.Text.Json.Nodes;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The committed hand-made tokenizers (tests/reference/tokenizers/tiny-*), whose ids are worked out
/// by hand from their few merges: they need no npm cache.
/// </summary>
public class TokenizerTests
{
    private static readonly Tokenizer ByteLevel = Tokenizer.Load(TokenizerFixtures.Tiny("bytelevel"));
    private static readonly Tokenizer SentencePiece = Tokenizer.Load(TokenizerFixtures.Tiny("sentencepiece"));

    [Fact]
    public void Byte_level_special_tokens_come_from_the_config_files()
    {
        Assert.Equal(TokenizerKind.ByteLevel, ByteLevel.Kind);
        Assert.Equal(272, ByteLevel.VocabSize);
        Assert.Equal(24, ByteLevel.BosId); // bos_token is null: generation_config's bos_token_id
        Assert.Null(ByteLevel.AddedBosId); // add_bos_token false
        Assert.Equal([26, 24], ByteLevel.EosIds); // generation_config's list, which holds eos_token already
        Assert.Equal(24, ByteLevel.PadId);
        Assert.Equal(22, ByteLevel.TokenToId("Ġworld"));
        Assert.Null(ByteLevel.TokenToId("world"));
    }

    [Theory]
    [InlineData("hello world!", new[] { 17, 22, 0 })]
    [InlineData("12 3", new[] { 23, 9, 13 })] // digits in groups of up to three, the space its own piece
    [InlineData("he\u0301", new[] { 4, 30 })] // NFC first: é is bytes C3 A9, written "Ã©"
    [InlineData("<|im_start|>hello<|im_end|><think>", new[] { 25, 17, 26, 27 })]
    [InlineData("hello <pad> world", new[] { 17, 31, 8, 19, 21 })] // <pad> has lstrip and rstrip: it takes both spaces
    [InlineData("", new int[0])]
    public void Byte_level_ids(string text, int[] ids) => Assert.Equal(ids, ByteLevel.Encode(text));

    [Fact]
    public void Byte_level_decode()
    {
        Assert.Equal("<|im_start|>hello world!<|im_end|>", ByteLevel.Decode([25, 17, 22, 0, 26]));
        Assert.Equal("hello world!", ByteLevel.Decode([25, 17, 22, 0, 26], skipSpecialTokens: true));
        Assert.Equal("<think>hello", ByteLevel.Decode([27, 17], skipSpecialTokens: true)); // <think> is not special
        Assert.Equal("hé", ByteLevel.Decode(ByteLevel.Encode("he\u0301")));
        Assert.Equal("hello", ByteLevel.Decode([17, 272, 1000])); // a model's padding rows past the vocabulary
        Assert.Throws<ArgumentOutOfRangeException>(() => ByteLevel.Decode([17, -1]));
    }

    [Fact]
    public void SentencePiece_special_tokens_come_from_the_config_files()
    {
        Assert.Equal(TokenizerKind.SentencePiece, SentencePiece.Kind);
        Assert.Equal(25, SentencePiece.VocabSize);
        Assert.Equal(1, SentencePiece.BosId);
        Assert.Equal(1, SentencePiece.AddedBosId);
        Assert.Equal([2], SentencePiece.EosIds);
        Assert.Null(SentencePiece.PadId);
        Assert.Equal(ChatFormat.Llama2, SentencePiece.ChatFormat); // no template: the SentencePiece vocabulary says Llama 2
    }

    [Theory]
    [InlineData("hello world!", true, new[] { 1, 20, 23, 10, 14, 15 })]
    // i has no byte token, so <unk>; 🦙 its four byte tokens. Hugging Face's <unk> waits for the next known
    // character, to fuse further unknown ones (fuse_unk), so the byte tokens go first (tokenizers 0.23.2 gives these ids).
    [InlineData("hi\U0001F999", false, new[] { 17, 3, 4, 5, 6, 0 })]
    [InlineData("ii\U0001F999i", false, new[] { 7, 3, 4, 5, 6, 0 })]
    [InlineData("  hello", false, new[] { 24, 20 })] // "▁▁▁hello": merge ranks put "▁h" before "▁▁"
    [InlineData("<s>hello", false, new[] { 1, 20 })] // the text after an added token gets its own '▁'
    public void SentencePiece_ids(string text, bool addBos, int[] ids) => Assert.Equal(ids, SentencePiece.Encode(text, addBos));

    [Fact]
    public void SentencePiece_decode()
    {
        Assert.Equal("<s> hello world!", SentencePiece.Decode([1, 20, 23, 10, 14, 15]));
        Assert.Equal("hello world!", SentencePiece.Decode([1, 20, 23, 10, 14, 15], skipSpecialTokens: true));
        Assert.Equal("h<unk>\U0001F999", SentencePiece.Decode([17, 0, 3, 4, 5, 6]));
        Assert.Equal("  hello", SentencePiece.Decode([24, 20]));
    }

    [Theory]
    [InlineData("first", "<s>hello", new[] { 1, 8, 9, 16, 11 })] // "first": no '▁' after an added token
    [InlineData("first", " hello", new[] { 20 })] // a text that starts with a space gets no second '▁'
    [InlineData("always", "<s>hello", new[] { 1, 20 })]
    [InlineData("never", "hello", new[] { 8, 9, 16, 11 })]
    public void Metaspace_prepend_schemes(string scheme, string text, int[] ids)
    {
        using var dir = TokenizerTempDir.CopyOf("sentencepiece");
        var json = JsonNode.Parse(File.ReadAllText(dir.File("tokenizer.json")))!;
        json["normalizer"] = null;
        json["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = scheme, ["split"] = false };
        File.WriteAllText(dir.File("tokenizer.json"), json.ToJsonString());
        Assert.Equal(ids, Tokenizer.Load(dir.Path).Encode(text, addBos: false));
    }

    [Fact]
    public void A_folder_with_only_a_tokenizer_model_uses_SentencePiece()
    {
        using var dir = new TokenizerTempDir();
        string[] merged = ["ll", "▁h", "▁he", "▁hell", "▁hello", "▁w", "or", "▁wor", "▁▁"];
        var pieces = TokenizerModelWriter.LlamaLayout(
            "▁helowrd!".Select(c => (c.ToString(), 0f)).Concat(merged.Select((p, rank) => (p, (float)-rank))));
        TokenizerModelWriter.Write(dir.File("tokenizer.model"), pieces);
        var tokenizer = Tokenizer.Load(dir.Path);
        int Id(string piece) => tokenizer.TokenToId(piece) ?? throw new KeyNotFoundException(piece);

        Assert.Equal(TokenizerKind.SentencePiece, tokenizer.Kind);
        Assert.Equal((1, 1), (tokenizer.BosId, tokenizer.AddedBosId));
        Assert.Equal([2], tokenizer.EosIds);
        Assert.Equal(new[] { "<s>", "▁hello", "▁wor", "l", "d", "!" }.Select(Id), tokenizer.Encode("hello world!"));
        Assert.Equal(new[] { "▁h", "<0x69>", "<0xF0>", "<0x9F>", "<0xA6>", "<0x99>" }.Select(Id), tokenizer.Encode("hi\U0001F999", addBos: false));
        Assert.Equal(new[] { "<s>", "</s>", "▁hello" }.Select(Id), tokenizer.Encode("<s></s>hello", addBos: false));
        Assert.Equal("hello world!", tokenizer.Decode(tokenizer.Encode("hello world!"), skipSpecialTokens: true));
        Assert.Equal("hi\U0001F999", tokenizer.Decode(tokenizer.Encode("hi\U0001F999", addBos: false)));
    }

    [Fact]
    public void Added_tokens_match_leftmost_then_longest()
    {
        var splitter = new AddedTokenSplitter([new AddedToken(0, "<a>", true), new AddedToken(1, "<a>b", true), new AddedToken(2, "b<", true)]);
        (int, int, int?)[] Parts(string text) => splitter.Split(text).Select(p => (p.Start, p.Length, p.Token?.Id)).ToArray();
        Assert.Equal([(0, 1, null), (1, 4, 1), (5, 3, 0)], Parts("x<a>b<a>"));
        Assert.Equal([(0, 2, 2), (2, 2, null)], Parts("b<a>"));
    }
}
