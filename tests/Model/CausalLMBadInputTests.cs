using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>A model folder that does not fit its config fails with one line naming the file, tensor and rule.</summary>
public class CausalLMBadInputTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "rawlora-badmodel-" + Guid.NewGuid().ToString("N"));

    public CausalLMBadInputTests()
    {
        Directory.CreateDirectory(_dir);
        foreach (var f in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(CausalLMTests.Dir("llama-gqa-tiny"), f), Path.Combine(_dir, f));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void EditConfig(string from, string to)
    {
        var path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace(from, to));
    }

    [Fact]
    public void AShapeTheConfigDoesNotImplyIsNamed()
    {
        EditConfig("\"intermediate_size\": 176", "\"intermediate_size\": 180");
        var e = Assert.Throws<SafeTensorsException>(() => CausalLM.Load(_dir));
        Assert.Equal("shape", e.Rule);
        Assert.Contains("mlp.gate_proj.weight", e.Message);
        Assert.Contains("[180, 64]", e.Message);
        Assert.Contains("[176, 64]", e.Message);
    }

    [Fact]
    public void AMissingTensorIsNamed()
    {
        EditConfig("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
        var e = Assert.Throws<SafeTensorsException>(() => CausalLM.Load(_dir));
        Assert.Equal("missing-tensor", e.Rule);
        Assert.Contains("model.layers.2.", e.Message);
    }

    [Fact]
    public void TensorsTheModelHasNoPlaceForAreNamed()
    {
        EditConfig("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1");
        var e = Assert.Throws<SafeTensorsException>(() => CausalLM.Load(_dir));
        Assert.Equal("unexpected-tensor", e.Rule);
        Assert.Contains("model.layers.1.", e.Message);
    }

    [Fact]
    public void AnUnknownArchitectureListsTheSupportedOnes()
    {
        EditConfig("LlamaForCausalLM", "GPTNeoXForCausalLM");
        var e = Assert.Throws<ConfigException>(() => CausalLM.Load(_dir));
        Assert.Contains("GPTNeoXForCausalLM", e.Message);
        Assert.Contains("Qwen2ForCausalLM", e.Message);
    }

    [Fact]
    public void AMissingWeightsFileIsNamed()
    {
        File.Delete(Path.Combine(_dir, "model.safetensors"));
        var e = Assert.Throws<SafeTensorsException>(() => CausalLM.Load(_dir));
        Assert.Contains("model.safetensors", e.Message);
    }
}
