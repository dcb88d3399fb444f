using System.Text.Json.Nodes;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Merged exports: a plain HF folder that loads and gives the adapter model's logits; sharding, dtype, config, atomicity.</summary>
public class MergedExportTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("rawlora-merged-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    [Theory]
    [InlineData("llama-gqa-dora")]
    [InlineData("qwen2-tied-embed-norm")]
    public void The_merged_folder_loads_and_gives_the_adapter_models_logits(string fixture)
    {
        using var f = new LoraFixture(fixture);
        PeftAdapterTests.ChangeSavedModules(f.Model);
        f.Model.ExtendContext(512);
        var adapted = PeftAdapterTests.Logits(f.Model);
        var weights = f.Model.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor.ToFloatArray());
        string outDir = Path.Combine(_tmp, "merged");
        MergedExport.Write(f.Model, null, outDir, shardBytes: 40_000, DType.F32);

        Assert.Null(f.Model.Layers[0].SelfAttn.QProj.MergedAdapter);
        foreach (var (name, tensor) in f.Model.NamedParameters())
            Assert.Equal(weights[name], tensor.ToFloatArray());
        Assert.Equal(adapted, PeftAdapterTests.Logits(f.Model));

        using var merged = CausalLM.Load(outDir);
        CausalLMTests.AssertRelative(adapted, PeftAdapterTests.Logits(merged), 1e-5);
        Assert.Equal(f.Model.Config.TieWordEmbeddings, merged.Config.TieWordEmbeddings);
        Assert.Equal(512, merged.Config.MaxPositionEmbeddings);
        Assert.Equal(RopeType.Linear, merged.Config.Rope.Type);
        Assert.Equal(4, merged.Config.Rope.Factor);

        using var checkpoint = SafeTensorsCheckpoint.Open(outDir);
        Assert.EndsWith("model.safetensors.index.json", checkpoint.Path);
        Assert.True(checkpoint.Files.Count() > 2);
        var baseNames = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "reference", "models", Path.GetFileName(Path.GetDirectoryName(f.Model.Config.SourceName)) + ".parameters.txt"))
            .Select(l => l.Split(' ')[0]).Where(n => !(f.Model.Config.TieWordEmbeddings && n == "lm_head.weight"));
        Assert.Equal(baseNames.Order(StringComparer.Ordinal), checkpoint.Names.Order(StringComparer.Ordinal));
        Assert.Equal(["config.json", $"model-00001-of-{checkpoint.Files.Count():D5}.safetensors"],
            Directory.GetFiles(outDir).Select(Path.GetFileName).Order(StringComparer.Ordinal).Take(2));
        Assert.Single(Directory.GetDirectories(_tmp));
    }

    [Fact]
    public void A_PEFT_adapter_for_a_tied_model_merges_into_a_tied_folder_with_PEFTs_logits()
    {
        const string adapter = "qwen2-tied-embed-norm";
        using var model = CausalLM.Load(PeftAdapterTests.BaseOf(adapter));
        PeftAdapter.Load(model, PeftAdapterTests.Reference(adapter));
        string outDir = Path.Combine(_tmp, "tied");
        MergedExport.Write(model, null, outDir, 5_000_000_000, DType.F32);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "config.json")))!;
        Assert.True((bool)config["tie_word_embeddings"]!);
        using (var file = new SafeTensorsFile(Path.Combine(outDir, "model.safetensors")))
            Assert.DoesNotContain("lm_head.weight", file.Names); // transformers ties it to the trained embedding
        using var merged = CausalLM.Load(outDir);
        CausalLMTests.AssertRelative(PeftAdapterTests.Expected(adapter), PeftAdapterTests.Logits(merged), 1e-4);
    }

    [Fact]
    public void Bf16_goes_in_one_file_and_the_config_says_so()
    {
        using var f = new LoraFixture("llama-gqa");
        string outDir = Path.Combine(_tmp, "bf16");
        Directory.CreateDirectory(outDir);
        MergedExport.Write(f.Model, null, outDir, 5_000_000_000, DType.BF16);
        using var file = new SafeTensorsFile(Path.Combine(outDir, "model.safetensors"));
        Assert.All(file.Names, n => Assert.Equal(DType.BF16, file.Info(n).DType));
        Assert.DoesNotContain(file.Names, n => n.Contains("lora", StringComparison.Ordinal));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "config.json")))!;
        Assert.Equal("bfloat16", (string?)config["torch_dtype"]);
        using var merged = CausalLM.Load(outDir);
        CausalLMTests.AssertRelative(PeftAdapterTests.Logits(f.Model), PeftAdapterTests.Logits(merged), 2e-2);
    }

    [Fact]
    public void An_existing_folder_is_refused_and_nothing_is_left_behind()
    {
        using var f = new LoraFixture("llama-gqa");
        string outDir = Path.Combine(_tmp, "taken");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "notes.txt"), "mine");
        var e = Assert.Throws<IOException>(() => MergedExport.Write(f.Model, null, outDir, 1 << 30, DType.F32));
        Assert.Contains(outDir, e.Message);
        Assert.Equal(["notes.txt"], Directory.GetFiles(outDir).Select(Path.GetFileName));
        Assert.Single(Directory.GetFileSystemEntries(_tmp));

        f.Model.SetActiveAdapter(null);
        Assert.Throws<InvalidOperationException>(() => MergedExport.Write(f.Model, null, Path.Combine(_tmp, "new"), 1 << 30, DType.F32));
        Assert.Single(Directory.GetFileSystemEntries(_tmp));
    }
}
