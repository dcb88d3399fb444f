using System.Text.Json.Nodes;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Broken tokenizer folders: each gives one TokenizerException naming the file, the field where
/// there is one, and what was expected.
/// </summary>
public class TokenizerBadInputTests
{
    private static TokenizerException Fails(TokenizerTempDir dir, string file, string? field, string expected)
    {
        var e = Assert.Throws<TokenizerException>(() => Tokenizer.Load(dir.Path));
        Assert.Equal(dir.File(file), e.File);
        Assert.Equal(field, e.Field);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    private static void Edit(TokenizerTempDir dir, string file, Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(dir.File(file)))!.AsObject();
        edit(json);
        File.WriteAllText(dir.File(file), json.ToJsonString());
    }

    [Fact]
    public void A_folder_without_tokenizer_files_says_what_it_looked_for()
    {
        using var dir = new TokenizerTempDir();
        var e = Assert.Throws<TokenizerException>(() => Tokenizer.Load(dir.Path));
        Assert.Equal(dir.Path, e.File);
        Assert.Contains("no tokenizer.json or tokenizer.model", e.Message);
        Assert.Contains("model folder not found", Assert.Throws<TokenizerException>(() => Tokenizer.Load(dir.File("nowhere"))).Message);
    }

    [Fact]
    public void Json_that_does_not_parse_names_the_file()
    {
        using var dir = TokenizerTempDir.CopyOf("bytelevel");
        File.WriteAllText(dir.File("tokenizer.json"), "{\"model\": [");
        Fails(dir, "tokenizer.json", null, "not valid JSON");
        File.WriteAllText(dir.File("tokenizer.json"), "[1, 2]");
        Fails(dir, "tokenizer.json", null, "expected a JSON object");
    }

    [Fact]
    public void A_model_that_is_not_BPE_is_refused()
    {
        using var dir = TokenizerTempDir.CopyOf("bytelevel");
        Edit(dir, "tokenizer.json", j => j["model"]!["type"] = "WordPiece");
        Fails(dir, "tokenizer.json", "model.type", "expected 'BPE'");
    }

    [Fact]
    public void Merges_must_be_pairs_of_vocabulary_tokens_that_make_one()
    {
        using var dir = TokenizerTempDir.CopyOf("bytelevel");
        Edit(dir, "tokenizer.json", j => j["model"]!["merges"]!.AsArray().Insert(0, "l l l"));
        Fails(dir, "tokenizer.json", "model.merges[0]", "expected \"a b\" or [\"a\", \"b\"]");

        using var unknown = TokenizerTempDir.CopyOf("bytelevel");
        Edit(unknown, "tokenizer.json", j => j["model"]!["merges"]!.AsArray().Add(new JsonArray("w", "w")));
        Fails(unknown, "tokenizer.json", "model.merges[11]", "makes 'ww', which is not in model.vocab");

        using var part = TokenizerTempDir.CopyOf("bytelevel");
        Edit(part, "tokenizer.json", j => j["model"]!["merges"]!.AsArray().Insert(1, "zz z"));
        Fails(part, "tokenizer.json", "model.merges[1]", "has 'zz', which is not in model.vocab");

        // Hugging Face ranks merges by their place in the list, whatever the ids of the tokens they make.
        using var order = TokenizerTempDir.CopyOf("bytelevel");
        Edit(order, "tokenizer.json", j =>
        {
            var merges = j["model"]!["merges"]!.AsArray();
            var first = merges[0]!.DeepClone();
            merges.RemoveAt(0);
            merges.Add(first);
        });
        Assert.Equal(TokenizerKind.ByteLevel, Tokenizer.Load(order.Path).Kind);
    }

    [Fact]
    public void A_byte_level_vocabulary_needs_every_byte_and_only_its_alphabet()
    {
        using var dir = TokenizerTempDir.CopyOf("bytelevel");
        Edit(dir, "tokenizer.json", j => j["model"]!["vocab"]!.AsObject().Remove("Ā"));
        Fails(dir, "tokenizer.json", "model.vocab", "no token for byte 0x00");

        using var alphabet = TokenizerTempDir.CopyOf("bytelevel");
        Edit(alphabet, "tokenizer.json", j => j["model"]!["vocab"]!["a b"] = 500);
        Fails(alphabet, "tokenizer.json", "model.vocab", "not written in the byte-level alphabet");
    }

    [Fact]
    public void Unsupported_pre_tokenizers_and_normalizers_are_named()
    {
        using var dir = TokenizerTempDir.CopyOf("bytelevel");
        Edit(dir, "tokenizer.json", j => j["pre_tokenizer"] = new JsonObject { ["type"] = "Whitespace" });
        Fails(dir, "tokenizer.json", "pre_tokenizer", "'Whitespace' is not supported");

        using var normalizer = TokenizerTempDir.CopyOf("bytelevel");
        Edit(normalizer, "tokenizer.json", j => j["normalizer"] = new JsonObject { ["type"] = "Lowercase" });
        Fails(normalizer, "tokenizer.json", "normalizer", "'Lowercase' is not supported");
    }

    [Fact]
    public void Special_tokens_of_the_config_must_be_in_the_vocabulary()
    {
        using var dir = TokenizerTempDir.CopyOf("bytelevel");
        Edit(dir, "tokenizer_config.json", j => j["eos_token"] = "<|nowhere|>");
        Fails(dir, "tokenizer_config.json", "eos_token", "'<|nowhere|>' is not in the vocabulary");

        using var bos = TokenizerTempDir.CopyOf("bytelevel");
        File.Delete(bos.File("generation_config.json")); // its bos_token_id would do
        Edit(bos, "tokenizer_config.json", j => j["add_bos_token"] = true);
        Fails(bos, "tokenizer_config.json", "add_bos_token", "no bos_token");

        using var flag = TokenizerTempDir.CopyOf("bytelevel");
        Edit(flag, "tokenizer_config.json", j => j["add_bos_token"] = "yes");
        Fails(flag, "tokenizer_config.json", "add_bos_token", "expected true or false");
    }
}
