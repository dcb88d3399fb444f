using RawLongLoRA.Profiling;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>--profile FILE on rawlora verbs: the trace and the table are written, the table printed; a bad path fails first.</summary>
[Collection(SerialCollection.Name)]
public sealed class ProfileCliTests
{
    [Fact]
    public void ForwardWritesTheTraceAndTheTable()
    {
        using var tmp = new TempFolder("rawlora-cli-profile-");
        string trace = tmp.File("forward.json");
        var (code, output, err) = CliTests.Run("forward", CausalLMTests.Dir("llama-gqa-tiny"), "--ids", "1,17,250,3", "--out", tmp.File("logits.safetensors"), "--profile", trace);
        Assert.True(code == 0, err);
        Assert.Contains("Profile of the whole recording", output);
        Assert.Contains("cpu::gemm", output);
        Assert.Contains($"trace written to {trace}", output);
        Assert.Contains(new TraceFile(trace).Events, e => e.Name == "model.layers.1.mlp" && e.Category == "module");
        Assert.Contains("[outside ops]", File.ReadAllText(tmp.File("forward.txt")));
        Assert.False(Profiler.IsRecording);
    }

    [Fact]
    public void TrainGivesItsStepsATableOfTheirOwn()
    {
        using var tmp = new TempFolder("rawlora-cli-profile-");
        string model = TinyModelFolder.Create(tmp.File("model"), "qwen2-tiny");
        string data = tmp.File("corpus.jsonl");
        File.WriteAllLines(data, Enumerable.Range(0, 8).Select(i => $"{{\"text\": \"hello world! {i} hello, world 12\"}}"));
        string trace = tmp.File("train.json");
        var (code, output, err) = CliTests.Run("train", "--model", model, "--data", data, "--output", tmp.File("run"), "--max-length", "16",
            "--max-steps", "2", "--quiet", "--profile", trace);
        Assert.True(code == 0, err);
        Assert.DoesNotContain("Profile of", output); // --quiet: where the files are, no table
        string table = File.ReadAllText(tmp.File("train.txt"));
        Assert.StartsWith("Profile of 2 'train step' scopes", table);
        Assert.Contains("Profile of 2 'train step' scopes (", table);
        Assert.Contains(", by input shape:", table);
        Assert.Contains("Profile of the whole recording", table);
        Assert.Contains("linear.backward", table);
        Assert.Contains("cpu::adamw", table);
    }

    [Fact]
    public void AProfileInAMissingFolderFailsBeforeWork()
    {
        using var tmp = new TempFolder("rawlora-cli-profile-");
        string trace = Path.Combine(tmp.Path, "missing", "p.json");
        var (code, output, err) = CliTests.Run("inspect", CausalLMTests.Dir("llama-gqa-tiny"), "--profile", trace);
        Assert.Equal(1, code);
        Assert.Contains("rawlora: error: --profile:", err);
        Assert.Contains("does not exist", err);
        Assert.Equal("", output); // inspect did not run
        Assert.False(Profiler.IsRecording);
    }
}
