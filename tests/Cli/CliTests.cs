using System.Text.RegularExpressions;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The rawlora verbs run in-process with stdout/stderr captured (hence serial: the console is global).</summary>
[Collection(SerialCollection.Name)]
public class CliTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("rawlora-cli-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    internal static (int Code, string Out, string Err) Run(params string[] args)
    {
        int code = 0;
        var (output, err) = ConsoleCapture.Of(() => code = RawLongLoRA.Cli.Program.Main(args));
        return (code, output, err);
    }

    [Fact]
    public void InspectDescribesTheFolder()
    {
        var (code, output, _) = Run("inspect", CausalLMTests.Dir("qwen3-tiny-yarn"));
        Assert.Equal(0, code);
        Assert.Contains("Qwen3 (Qwen3ForCausalLM)", output);
        Assert.Contains("4 heads of 32, 2 kv heads, q/k norm", output);
        Assert.Contains("scaling yarn, factor 4, original context 128", output);
        Assert.Contains("tokenizer", output);
        long parameters = new[] { 300 * 64 * 2L, 64 }.Sum() + 2 * (128 * 64 * 2 + 64 * 64 * 2 + 160 * 64 * 3 + 64 * 2 + 32 * 2);
        Assert.Contains($"{parameters:N0}", output);
    }

    [Fact]
    public void ForwardWritesThePyTorchLogits()
    {
        string path = Path.Combine(_tmp, "logits.safetensors");
        var (code, output, err) = Run("forward", CausalLMTests.Dir("llama-gqa-tiny"), "--ids", "1,17,250,3,99,42,7,123,5,64,200,11", "--out", path);
        Assert.True(code == 0, err);
        Assert.Contains("[1, 12, 300]", output);
        using var ours = SafeTensorsCheckpoint.Open(path);
        using var theirs = SafeTensorsCheckpoint.Open(Path.Combine(CausalLMTests.Dir("llama-gqa-tiny"), "expected.safetensors"));
        using var a = ours.Load("logits");
        using var b = theirs.Load("logits");
        CausalLMTests.AssertRelative(b.ToFloatArray(), a.ToFloatArray(), 1e-4);
    }

    private string ModelWithTokenizer() => TinyModelFolder.Create(Path.Combine(_tmp, "model"), "qwen2-tiny");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GeneratePrintsWhatTheLibraryGenerates(bool chat)
    {
        string dir = ModelWithTokenizer();
        var tokenizer = Tokenizer.Load(dir);
        int[] prompt = chat
            ? tokenizer.Encode(tokenizer.ApplyChatTemplate([new ChatMessage("user", "hello world")], addGenerationPrompt: true), addBos: false)
            : tokenizer.Encode("hello world");
        Assert.Equal(chat ? 25 : 17, prompt[0]); // <|im_start|> opens the chat; "hello" is one token
        using var model = CausalLM.Load(dir, DType.F32);
        var options = new SamplingOptions { MaxNewTokens = 12, Temperature = 0.8f, TopK = 50, Seed = 7, StopTokens = [.. tokenizer.EosIds] };
        int[] expected = TextGeneration.Generate(model, prompt, options);

        string[] args = ["generate", dir, "--prompt", "hello world", "-n", "12", "-t", "0.8", "--top-k", "50", "--seed", "7"];
        var (code, output, err) = Run(chat ? [.. args, "--chat"] : args);
        Assert.True(code == 0, err);
        Assert.NotEmpty(output.TrimEnd());
        Assert.Equal(tokenizer.Decode(expected, skipSpecialTokens: true) + Environment.NewLine, output);
    }

    [Fact]
    public void TrainFromAConfigFileThenMergeThenGenerate()
    {
        string model = ModelWithTokenizer();
        string data = Path.Combine(_tmp, "corpus.jsonl");
        File.WriteAllLines(data, Enumerable.Range(0, 12).Select(i => $"{{\"text\": \"hello world! {i} hello, world 12\"}}"));
        string config = Path.Combine(_tmp, "train.json");
        File.WriteAllText(config, $$"""
            { "model": "{{model}}", "data": ["{{data}}"], "output": "{{Path.Combine(_tmp, "run")}}",
              "max_length": 16, "context": 512, "max_steps": 50, "lr": 0.01, "warmup_steps": 0 }
            """);
        var (code, output, err) = Run("train", "--config", config, "--max-steps", "3", "--lora-r", "4");
        Assert.True(code == 0, err);
        Assert.Contains("step 3/3  loss ", output);
        Assert.Contains("context 512 (rope linear)", output);
        Assert.Matches($@"(?m)^adapter +{Regex.Escape(Path.Combine(_tmp, "run", "adapter"))}$", output);
        Assert.Matches($@"(?m)^plot +{Regex.Escape(Path.Combine(_tmp, "run", "loss.png"))}$", output);
        Assert.Contains("\"r\": 4", File.ReadAllText(Path.Combine(_tmp, "run", "adapter", "adapter_config.json")));

        string merged = Path.Combine(_tmp, "merged");
        (code, _, err) = Run("merge", model, Path.Combine(_tmp, "run", "adapter"), "--out", merged);
        Assert.True(code == 0, err);
        Assert.Equal(512, ModelConfig.Load(Path.Combine(merged, "config.json")).MaxPositionEmbeddings);
        (code, output, err) = Run("generate", merged, "--prompt", "hello", "-n", "4");
        Assert.True(code == 0, err);
        Assert.NotEmpty(output.Trim());
    }

    [Fact]
    public void DemoRefusesAFolderInUseAndOverwriteKeepsUnknownFiles()
    {
        string dir = Path.Combine(_tmp, "demo"), weightless = Path.Combine(_tmp, "weightless");
        Directory.CreateDirectory(Path.Combine(dir, "longlora-s2"));
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "mine");
        Directory.CreateDirectory(weightless);
        File.Copy(Path.Combine(CausalLMTests.Dir("qwen2-tiny"), "config.json"), Path.Combine(weightless, "config.json"));
        var (code, _, err) = Run("demo", "--out", dir, "--base", weightless);
        Assert.Equal(1, code);
        Assert.Contains("exists and is not empty", err);
        Assert.True(Directory.Exists(Path.Combine(dir, "longlora-s2")));
        (code, _, err) = Run("demo", "--out", dir, "--base", weightless, "--overwrite");
        Assert.Equal(1, code); // the base has no weights: a clear error after the folder was cleared
        Assert.Contains("weightless", err);
        Assert.False(Directory.Exists(Path.Combine(dir, "longlora-s2")));
        Assert.Equal("mine", File.ReadAllText(Path.Combine(dir, "notes.txt")));
    }

    [Fact]
    public void TrainWithABadOptionNamesIt()
    {
        string config = Path.Combine(_tmp, "train.json");
        File.WriteAllText(config, """{ "model": "m", "lora_rank": 8 }""");
        var (code, _, err) = Run("train", "--config", config);
        Assert.Equal(1, code);
        Assert.Contains("train.json: lora_rank", err);
        (code, _, err) = Run("train", "--model", "m", "--data", "d.jsonl", "--output", "o", "--schedule", "cosine", "--group-ratio", "0.3");
        Assert.Equal(1, code);
        Assert.Contains("group_ratio", err);
    }

    [Fact]
    public void GenerateWithoutATokenizerSaysWhichFileIsMissing()
    {
        var (code, _, err) = Run("generate", CausalLMTests.Dir("qwen2-tiny"), "--prompt", "hi");
        Assert.Equal(1, code);
        Assert.Contains("tokenizer", err);
        Assert.Single(err.TrimEnd().Split('\n'));
    }

    [Fact]
    public void ErrorsAreOneLineAndExitOne()
    {
        var (code, _, err) = Run("inspect", Path.Combine(_tmp, "nowhere"));
        Assert.Equal(1, code);
        Assert.StartsWith("rawlora: error: ", err);
        Assert.Contains("config.json", err);
        Assert.Single(err.TrimEnd().Split('\n'));

        (code, _, err) = Run("forward", CausalLMTests.Dir("llama-gqa-tiny"), "--ids", "1,x", "--out", Path.Combine(_tmp, "o.safetensors"));
        Assert.Equal(1, code);
        Assert.Contains("'x' is not a token id", err);
    }

    [Fact]
    public void VerboseAddsTheStackTrace()
    {
        var (code, _, err) = Run("inspect", Path.Combine(_tmp, "nowhere"), "--verbose");
        Assert.Equal(1, code);
        Assert.Contains("   at ", err);
    }

    [Fact]
    public void EveryVerbsHelpShowsExamplesAndVersionPrints()
    {
        var (code, help, _) = Run("--help");
        Assert.Equal(0, code);
        var verbs = Regex.Matches(help[help.IndexOf("Commands:", StringComparison.Ordinal)..], @"(?m)^  ([a-z]+)\b").Select(m => m.Groups[1].Value).ToList();
        Assert.Contains("train", verbs);
        Assert.Contains("inspect", verbs);
        foreach (string verb in verbs)
        {
            (code, var output, _) = Run(verb, "--help");
            Assert.Equal(0, code);
            Assert.Contains("Examples:", output);
            Assert.Contains("  rawlora " + verb + " ", output);
        }
        var (vcode, version, _) = Run("--version");
        Assert.Equal(0, vcode);
        Assert.Matches(@"^\d+\.\d+\.\d+", version.Trim());
    }

    [Fact]
    public void TrainQuietPrintsOnlyTheSummaryAndRefusesAFullOutputFolderUnlessOverwrite()
    {
        string model = ModelWithTokenizer(), data = Path.Combine(_tmp, "corpus.jsonl"), run = Path.Combine(_tmp, "run");
        File.WriteAllLines(data, Enumerable.Range(0, 12).Select(i => $"{{\"text\": \"hello world! {i} hello, world 12\"}}"));
        string[] args = ["train", "--model", model, "--data", data, "--output", run, "--max-length", "16", "--warmup-steps", "0", "--quiet"];

        var (code, output, err) = Run([.. args, "--max-steps", "2"]);
        Assert.True(code == 0, err);
        Assert.Equal("", err);
        Assert.StartsWith("train: done" + Environment.NewLine + "steps ", output);
        Assert.DoesNotContain("step 1/", output);
        Assert.DoesNotContain("data:", output);
        Assert.Matches(@"(?m)^steps +2/2 \(0 skipped\)$", output);
        Assert.Matches(@"(?m)^peak tensor memory +\d", output);

        (code, output, err) = Run([.. args, "--max-steps", "2"]);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal($"rawlora: error: {run} exists and is not empty; pass --overwrite to start again there (deletes only what a run wrote) or --resume to continue its run",
                     err.TrimEnd());

        File.WriteAllText(Path.Combine(run, "notes.txt"), "mine");
        (code, output, err) = Run([.. args, "--overwrite", "--max-steps", "1"]);
        Assert.True(code == 0, err);
        Assert.Matches(@"(?m)^steps +1/1 ", output);
        Assert.True(File.Exists(Path.Combine(run, "notes.txt")));
        Assert.Single(File.ReadAllLines(Path.Combine(run, "metrics.jsonl")));
    }

    [Fact]
    public void MergeWritesTheMergedFolderWithTheAdaptersContext()
    {
        string baseDir = ModelWithTokenizer(), adapter = Path.Combine(_tmp, "adapter"), outDir = Path.Combine(_tmp, "merged");
        float[] expected;
        using (var f = new LoraFixture("qwen2-tied-embed-norm"))
        {
            PeftAdapterTests.ChangeSavedModules(f.Model);
            f.Model.ExtendContext(512, RopeType.Yarn);
            PeftAdapter.Save(f.Model, "default", adapter, baseDir);
            expected = PeftAdapterTests.Logits(f.Model);
        }
        var (code, output, err) = Run("merge", baseDir, adapter, "--out", outDir, "--shard-size", "30KB");
        Assert.True(code == 0, err);
        Assert.Contains("context: 512 tokens, rope yarn factor 4", output);
        using var merged = CausalLM.Load(outDir);
        CausalLMTests.AssertRelative(expected, PeftAdapterTests.Logits(merged), 1e-5);
        Assert.Equal(RopeType.Yarn, merged.Config.Rope.Type);
        Assert.True(File.Exists(Path.Combine(outDir, "model.safetensors.index.json")));
        Assert.Equal(File.ReadAllText(Path.Combine(baseDir, "tokenizer.json")), File.ReadAllText(Path.Combine(outDir, "tokenizer.json")));
        Assert.Equal(Tokenizer.Load(baseDir).Encode("hello world"), Tokenizer.Load(outDir).Encode("hello world"));
    }

    [Fact]
    public void MergeNamesAMissingAdapterFileInOneLine()
    {
        string adapter = Path.Combine(_tmp, "adapter");
        Directory.CreateDirectory(adapter);
        File.Copy(Path.Combine(PeftAdapterTests.Reference("llama-gqa"), "adapter_config.json"), Path.Combine(adapter, "adapter_config.json"));
        var (code, _, err) = Run("merge", CausalLMTests.Dir("llama-gqa-tiny"), adapter, "--out", Path.Combine(_tmp, "merged"), "--dtype", "bf16");
        Assert.Equal(1, code);
        Assert.StartsWith("rawlora: error: ", err);
        Assert.Contains("adapter_model.safetensors", err);
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.False(Directory.Exists(Path.Combine(_tmp, "merged")));
        Assert.Equal(1, Run("merge", CausalLMTests.Dir("llama-gqa-tiny"), adapter, "--out", Path.Combine(_tmp, "m"), "--shard-size", "lots").Code);
    }
}
