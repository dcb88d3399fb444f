using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>rawlora tokenize: a token cache made once, then trained on with --data.</summary>
[Collection(SerialCollection.Name)]
public sealed class TokenizeCliTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("rawlora-tokenize-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    [Fact]
    public void TokenizeThenTrainOnTheCacheWithoutTheTextFiles()
    {
        string model = TinyModelFolder.Create(Path.Combine(_tmp, "model"), "llama-gqa-tiny");
        string data = Path.Combine(_tmp, "corpus.jsonl"), tokens = Path.Combine(_tmp, "corpus.tok"), run = Path.Combine(_tmp, "run");
        File.WriteAllLines(data, Enumerable.Range(0, 12).Select(i => $"{{\"text\": \"hello world! {i} hello, world 12\"}}"));

        var (code, output, err) = CliTests.Run("tokenize", data, "--model", model, "--out", tokens, "--quiet");
        Assert.True(code == 0, err);
        Assert.StartsWith("tokenize: done", output);
        Assert.Matches(@"(?m)^samples +12 \(0 empty skipped\)$", output);
        Assert.Matches($@"(?m)^cache +{System.Text.RegularExpressions.Regex.Escape(tokens)} \(train with --data ", output);
        File.Delete(data);

        (code, output, err) = CliTests.Run("train", "--model", model, "--data", tokens, "--output", run, "--max-length", "16", "--max-steps", "1");
        Assert.True(code == 0, err);
        Assert.Contains("data: 12 samples in ", output);
        Assert.False(Directory.Exists(Path.Combine(run, "data-cache")));
    }

    [Fact]
    public void AnOutputFolderHoldingOtherFilesIsRefusedInOneLine()
    {
        string model = TinyModelFolder.Create(Path.Combine(_tmp, "model"), "llama-gqa-tiny");
        string data = Path.Combine(_tmp, "a.txt"), taken = Path.Combine(_tmp, "taken");
        File.WriteAllText(data, "hello");
        Directory.CreateDirectory(taken);
        File.WriteAllText(Path.Combine(taken, "notes.txt"), "mine");

        var (code, output, err) = CliTests.Run("tokenize", data, "--model", model, "--out", taken);

        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal($"rawlora: error: --out: {taken} holds other things than a token cache; give a new or empty folder", err.TrimEnd());
        Assert.Equal("mine", File.ReadAllText(Path.Combine(taken, "notes.txt")));
    }
}
