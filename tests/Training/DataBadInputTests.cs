using System.Text.Json.Nodes;
using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Bad training data: each a one-line exception naming the file, the line and the field.</summary>
public class DataBadInputTests
{
    private static readonly Tokenizer ByteLevel = Tokenizer.Load(TokenizerFixtures.Tiny("bytelevel"));
    private static readonly DataOptions Options = new() { MaxLength = 16 };

    private static DataException Documents(string path) =>
        Assert.Throws<DataException>(() => PackedDataset.FromDocuments([path], ByteLevel, Options));

    private static DataException Instructions(string path) =>
        Assert.Throws<DataException>(() => PackedDataset.FromInstructions([path], ByteLevel, Options));

    private static string Write(TokenizerTempDir dir, string name, string text)
    {
        File.WriteAllText(dir.File(name), text);
        return dir.File(name);
    }

    [Fact]
    public void AMissingFileIsNamed()
    {
        using var dir = new TokenizerTempDir();
        string path = dir.File("nope.jsonl");

        var e = Documents(path);

        Assert.Equal($"{path}: file not found", e.Message);
        Assert.Equal((path, (int?)null, (string?)null), (e.File, e.Line, e.Field));
    }

    [Fact]
    public void AMalformedLineIsNamedByItsNumber()
    {
        using var dir = new TokenizerTempDir();
        string path = Write(dir, "a.jsonl", "{\"text\": \"a\"}\n\n{\"text\": \"b\n");

        var e = Documents(path);

        Assert.StartsWith($"{path}:3: malformed JSON: ", e.Message);
        Assert.Equal(3, e.Line);
        Assert.DoesNotContain('\n', e.Message.TrimEnd());
    }

    [Fact]
    public void ALineThatIsNotAnObjectIsRefused()
    {
        using var dir = new TokenizerTempDir();
        string path = Write(dir, "a.jsonl", "[\"text\"]\n");

        Assert.Equal($"{path}:1: expected a JSON object, got Array", Documents(path).Message);
    }

    [Fact]
    public void AMissingOrNonStringFieldIsNamed()
    {
        using var dir = new TokenizerTempDir();
        string text = Write(dir, "text.jsonl", "{\"text\": \"a\"}\n{\"content\": \"b\"}\n");
        string output = Write(dir, "output.jsonl", "{\"instruction\": \"a\", \"output\": 3}\n");
        string input = Write(dir, "input.jsonl", "{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \"a\", \"input\": [], \"output\": \"b\"}\n");
        string instruction = Write(dir, "instruction.jsonl", "{\"instruction\": null, \"output\": \"b\"}\n");

        Assert.Equal($"{text}:2: text: missing or null; expected a string", Documents(text).Message);
        Assert.Equal($"{output}:1: output: expected a string, got Number", Instructions(output).Message);
        var e = Instructions(input);
        Assert.Equal($"{input}:2: input: expected a string, got Array", e.Message);
        Assert.Equal((2, "input"), (e.Line, e.Field));
        Assert.Equal($"{instruction}:1: instruction: missing or null; expected a string", Instructions(instruction).Message);
    }

    [Fact]
    public void DataWithNothingToTrainOnIsRefused()
    {
        using var dir = new TokenizerTempDir();
        string blank = Write(dir, "blank.jsonl", "\n  \n");
        string empty = Write(dir, "empty.jsonl", "{\"text\": \"\"}\n{\"text\": \"\"}\n");

        Assert.Equal($"{blank}: no samples to train on (0 empty ones skipped)", Documents(blank).Message);
        Assert.Equal($"{empty}: no samples to train on (2 empty ones skipped)", Documents(empty).Message);
    }

    [Fact]
    public void AnEmptyFileAloneIsNamed()
    {
        using var dir = new TokenizerTempDir();
        string jsonl = Write(dir, "empty.jsonl", ""), txt = Write(dir, "empty.txt", "");

        Assert.Equal($"{jsonl}: no samples to train on (0 empty ones skipped)", Documents(jsonl).Message);
        Assert.Equal($"{txt}: no samples to train on (1 empty ones skipped)", Documents(txt).Message);
    }

    [Fact]
    public void TextThatIsNotUtf8IsNamedByItsLine()
    {
        using var dir = new TokenizerTempDir();
        string jsonl = dir.File("latin1.jsonl"), txt = dir.File("latin1.txt");
        byte[] latin1 = [.. "{\"text\": \"a\"}\n{\"text\": \"b\"}\n{\"text\": \"caf"u8, 0xE9, .. "\"}\n"u8];
        File.WriteAllBytes(jsonl, latin1);
        File.WriteAllBytes(txt, [.. "line one\ncaf"u8, 0xE9, .. "\n"u8]);

        var e = Documents(jsonl);
        Assert.Equal($"{jsonl}:3: not UTF-8 text (save the file as UTF-8)", e.Message);
        Assert.Equal(3, e.Line);
        Assert.Equal($"{txt}:2: not UTF-8 text (save the file as UTF-8)", Documents(txt).Message);
        Assert.Equal($"{jsonl}:3: not UTF-8 text (save the file as UTF-8)", Instructions(jsonl).Message);
    }

    [Fact]
    public void FilesOfTheWrongKindAreRefused()
    {
        using var dir = new TokenizerTempDir();
        string csv = Write(dir, "a.csv", "text\nabc\n");
        string txt = Write(dir, "a.txt", "abc");
        using var emptyDir = new TokenizerTempDir();

        Assert.Equal($"{csv}: unknown kind of file; expected .txt (one document) or .jsonl (one document a line)", Documents(csv).Message);
        Assert.Equal($"{txt}: instruction data must be a .jsonl file (instruction, input, output fields)", Instructions(txt).Message);
        Assert.Equal($"{emptyDir.Path}: folder holds no .txt or .jsonl files", Documents(emptyDir.Path).Message);
    }

    [Fact]
    public void ARowShorterThanTwoTokensIsRefused()
    {
        using var dir = new TokenizerTempDir();
        string path = Write(dir, "a.txt", "abc");

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => PackedDataset.FromDocuments([path], ByteLevel, new DataOptions { MaxLength = 1 }));
        Assert.Contains("max_length is 1; a row needs at least 2 tokens", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => PackedDataset.FromInstructions([path], ByteLevel, new DataOptions { MaxLength = 4, MinPromptTokens = 4 }));
    }

    [Fact]
    public void ATokenizerWithoutEosIsRefused()
    {
        using var copy = TokenizerTempDir.CopyOf("bytelevel");
        File.Delete(copy.File("generation_config.json"));
        var config = JsonNode.Parse(File.ReadAllText(copy.File("tokenizer_config.json")))!;
        config["eos_token"] = null;
        File.WriteAllText(copy.File("tokenizer_config.json"), config.ToJsonString());
        string path = Write(copy, "a.txt", "abc");

        var e = Assert.Throws<ArgumentException>(() => PackedDataset.FromDocuments([path], Tokenizer.Load(copy.Path), Options));
        Assert.Contains("the tokenizer has no EOS token", e.Message);
    }
}
