using System.Text.Json;
using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>rawlora eval ppl | passkey, run in-process on the tiny model with the tiny byte-level tokenizer.</summary>
[Collection(SerialCollection.Name)]
public class EvalCliTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("rawlora-eval-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private string Model() => TinyModelFolder.Create(Path.Combine(_tmp, "model"), "qwen2-tiny");

    private string Documents()
    {
        string path = Path.Combine(_tmp, "docs.jsonl");
        File.WriteAllLines(path, Enumerable.Range(1, 3).Select(k => JsonSerializer.Serialize(new { text = string.Concat(Enumerable.Repeat($"hello world {k}! ", 4 * k)) })));
        return path;
    }

    [Fact]
    public void PerplexityPrintsTheTableAndWritesWhatTheLibraryComputes()
    {
        string model = Model(), data = Documents(), json = Path.Combine(_tmp, "ppl.json");

        var (code, output, err) = CliTests.Run("eval", "ppl", model, "--data", data, "--window", "32", "--stride", "8", "--json", json);

        Assert.True(code == 0, err);
        Assert.Contains("context 128 (rope default)", output);
        Assert.Contains("window 32, stride 8: 3 document(s)", output);
        Assert.Contains($"{data}:3", output);
        using var lm = CausalLM.Load(model);
        var expected = Perplexity.Evaluate(lm, Tokenizer.Load(model), [data], new PerplexityOptions { Window = 32, Stride = 8 });
        Assert.Contains($"{expected.Perplexity,10:F3}", output);
        using var written = JsonDocument.Parse(File.ReadAllText(json));
        var result = written.RootElement.GetProperty("result");
        Assert.Equal(expected.TokensScored, result.GetProperty("tokens_scored").GetInt64());
        Assert.Equal(expected.Perplexity, result.GetProperty("perplexity").GetDouble(), 1e-9);
        Assert.Equal(3, result.GetProperty("documents").GetArrayLength());
        Assert.Equal(128, written.RootElement.GetProperty("context").GetInt32());
    }

    [Fact]
    public void PerplexityTakesTheAdaptersContext()
    {
        string model = Model(), adapter = Path.Combine(_tmp, "adapter"), data = Documents();
        using (var f = new LoraFixture("qwen2-tied-embed-norm"))
        {
            f.Model.ExtendContext(512, RopeType.Yarn);
            PeftAdapter.Save(f.Model, "default", adapter, model);
        }

        var (code, output, err) = CliTests.Run("eval", "ppl", model, "--adapter", adapter, "--data", data, "--window", "256");

        Assert.True(code == 0, err);
        Assert.Contains("context 512 (rope yarn factor 4)", output);
        Assert.Contains($"adapter {adapter}", output);
        Assert.Contains("window 256, stride 128", output);
    }

    [Fact]
    public void AWindowBeyondTheContextIsOneErrorUnlessAllowed()
    {
        string model = Model(), data = Documents();

        var (code, _, err) = CliTests.Run("eval", "ppl", model, "--data", data, "--window", "256");
        Assert.Equal(1, code);
        Assert.StartsWith("rawlora: error: perplexity: a window of 256 tokens is beyond the model's context of 128 tokens", err);
        Assert.Single(err.TrimEnd().Split('\n'));

        (code, _, err) = CliTests.Run("eval", "ppl", model, "--data", data, "--window", "256", "--allow-beyond-context");
        Assert.True(code == 0, err);
        (code, var output, err) = CliTests.Run("eval", "ppl", model, "--data", data, "--window", "256", "--context", "256", "--rope-scaling", "dynamic");
        Assert.True(code == 0, err);
        Assert.Contains("context 256 (rope dynamic factor 2)", output);

        File.WriteAllText(Path.Combine(_tmp, "empty.txt"), "");
        (code, _, err) = CliTests.Run("eval", "ppl", model, "--data", Path.Combine(_tmp, "empty.txt"));
        Assert.Equal(1, code);
        Assert.Contains("empty.txt: no documents to score", err);
        (code, _, err) = CliTests.Run("eval", "ppl", model, "--data", data, "--rope-scaling", "ntk");
        Assert.Equal(1, code);
        Assert.Contains("--rope-scaling: 'ntk' is not one of linear, dynamic, yarn", err);
    }

    [Fact]
    public void PasskeyPrintsALengthByDepthTable()
    {
        string model = Model(), json = Path.Combine(_tmp, "passkey.json"), png = Path.Combine(_tmp, "passkey.png");

        var (code, output, err) = CliTests.Run("eval", "passkey", model, "--lengths", "250,300", "--depths", "0,1", "--trials", "2",
            "--context", "512", "--rope-scaling", "yarn", "--seed", "5", "--json", json, "--plot", png);

        Assert.True(code == 0, err);
        Assert.Contains("passkey accuracy, 2 trial(s) a cell", output);
        Assert.Matches(@"length\s+depth 0\s+depth 1\s+all", output);
        Assert.Matches(@"\n\s+250\s+\d+ ?%\s+\d+ ?%\s+\d+ ?%", output);
        Assert.Matches(@"\n\s+300\s+\d+ ?%\s+\d+ ?%\s+\d+ ?%", output);
        using var written = JsonDocument.Parse(File.ReadAllText(json));
        var result = written.RootElement.GetProperty("result");
        Assert.Equal(8, result.GetProperty("trials").GetArrayLength());
        Assert.Equal(4, result.GetProperty("table").GetProperty("cells").GetArrayLength());
        Assert.Equal([250, 300], result.GetProperty("table").GetProperty("lengths").EnumerateArray().Select(e => e.GetInt32()));
        Assert.All(result.GetProperty("trials").EnumerateArray(), t => Assert.Matches("^[1-9][0-9]{4}$", t.GetProperty("key").GetString()));
        PngImage.Read(png);
    }

    [Fact]
    public void PasskeyRefusesBadListsInOneLine()
    {
        string model = Model();
        foreach (var (args, message) in new[]
        {
            (new[] { "--lengths", "250,x" }, "--lengths: 'x' is not a positive number of tokens"),
            (new[] { "--lengths", "250", "--depths", "0,2" }, "--depths: '2' is not a fraction in [0, 1], or random"),
            (new[] { "--lengths", "1024" }, "passkey: a prompt of 1024 tokens is beyond the model's context of 128 tokens"),
            (new[] { "--lengths", "100", "--allow-beyond-context" }, "passkey: a length of 100 tokens is shorter than the prompt without filler"),
        })
        {
            var (code, _, err) = CliTests.Run(["eval", "passkey", model, .. args]);
            Assert.Equal(1, code);
            Assert.Contains(message, err);
            Assert.Single(err.TrimEnd().Split('\n'));
        }
        var (random, output, error) = CliTests.Run("eval", "passkey", model, "--lengths", "250", "--depths", "random", "--trials", "1", "--allow-beyond-context");
        Assert.True(random == 0, error);
        Assert.Contains("random depth", output);
    }

    [Fact]
    public void HelpShowsExamples()
    {
        foreach (var verb in new[] { "ppl", "passkey" })
        {
            var (code, output, _) = CliTests.Run("eval", verb, "--help");
            Assert.Equal(0, code);
            Assert.Contains("rawlora eval " + verb + " ./", output);
            Assert.Contains("--allow-beyond-context", output);
        }
    }
}
