using System.Text.Json.Nodes;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>PEFT adapter folders: save/load round trips, PEFT's key names and config fields, folders written by Python, bad input.</summary>
public class PeftAdapterTests : IDisposable
{
    internal static readonly long[] Ids = [1, 17, 250, 3, 99, 42, 7, 123, 5, 64, 200, 11];

    private readonly string _tmp = Directory.CreateTempSubdirectory("rawlora-peft-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    internal static string Reference(string name) => Path.Combine(AppContext.BaseDirectory, "reference", "peft", name);

    internal static float[] Logits(CausalLM model)
    {
        using var scope = new DisposeScope();
        using var noGrad = Autograd.NoGrad();
        return model.Forward(Tensor.FromArray(Ids, [1, Ids.Length])).ToFloatArray();
    }

    /// <summary>Makes the fixture's modules_to_save differ from the base checkpoint, so that saving and loading them shows.</summary>
    internal static void ChangeSavedModules(CausalLM model)
    {
        using var scope = new DisposeScope();
        using var noGrad = Autograd.NoGrad();
        foreach (var (name, tensor) in model.TrainableParameters())
            if (!name.Contains(".lora_", StringComparison.Ordinal))
                tensor.CopyFrom(tensor.Scale(1.25f).AddScalar(0.01f));
    }

    /// <summary>The logits make_peft.py computed for a case ("logits_without_lm_head": PEFT's without the tied head entry).</summary>
    internal static float[] Expected(string name, string tensor = "logits")
    {
        using var f = new SafeTensorsFile(Path.Combine(Reference(name), "expected.safetensors"));
        using var ids = f.Load("input_ids");
        Assert.Equal(Ids, ids.ToArray<long>());
        using var logits = f.Load(tensor);
        return logits.ToFloatArray();
    }

    /// <summary>The tiny model a Python-written case was made for (its base_model_name_or_path, "models/&lt;name&gt;").</summary>
    internal static string BaseOf(string name)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(Reference(name), "adapter_config.json")))!;
        return CausalLMTests.Dir(Path.GetFileName((string)json["base_model_name_or_path"]!));
    }

    [Theory]
    [MemberData(nameof(LoraFixture.Cases), MemberType = typeof(LoraFixture))]
    public void Save_then_load_gives_the_same_tensors_and_logits(string fixture)
    {
        using var f = new LoraFixture(fixture);
        ChangeSavedModules(f.Model);
        string dir = Path.Combine(_tmp, fixture);
        PeftAdapter.Save(f.Model, "default", dir, "base");
        var saved = f.Model.TrainableParameters().ToDictionary(p => p.Name.Replace(".default.", ".long."), p => p.Tensor.ToFloatArray());

        using var model = CausalLM.Load(Path.GetDirectoryName(f.Model.Config.SourceName)!);
        PeftAdapter.Load(model, dir, "long");
        Assert.Equal("long", model.ActiveAdapter);
        var c = model.AdapterConfig("long");
        Assert.Equal((f.Config.R, f.Config.Alpha, f.Config.Dropout, f.Config.UseRsLora, f.Config.UseDora), (c.R, c.Alpha, c.Dropout, c.UseRsLora, c.UseDora));
        Assert.Equal(f.Config.TargetModules, c.TargetModules);
        Assert.Equal(f.Config.ModulesToSave, c.ModulesToSave);
        var loaded = model.TrainableParameters().ToDictionary(p => p.Name, p => p.Tensor.ToFloatArray());
        Assert.Equal(saved.Keys.Order(), loaded.Keys.Order());
        foreach (var (name, values) in saved)
            Assert.Equal(values, loaded[name]);
        Assert.Equal(Logits(f.Model), Logits(model));
    }

    [Theory]
    [InlineData("llama-gqa-s2-embed-norm", "llama-gqa-tiny-attn-embed-norm", "meta-llama/Llama-2-7b-hf")]
    [InlineData("qwen2-tied-embed-norm", "qwen2-tiny-attn-embed-norm", "Qwen/Qwen2.5-0.5B")]
    public void The_saved_keys_and_adapter_config_are_PEFTs(string fixture, string approved, string baseModel)
    {
        using var f = new LoraFixture(fixture);
        using var scope = new DisposeScope();
        string dir = Path.Combine(_tmp, "adapter");
        PeftAdapter.Save(f.Model, "default", dir, baseModel);
        using var file = new SafeTensorsFile(Path.Combine(dir, "adapter_model.safetensors"));
        var keys = file.Names.Order(StringComparer.Ordinal).Select(n => $"{n} {file.Info(n).DType.SafetensorsName()} {Shapes.Format(file.Info(n).Shape)}");
        Assert.Equal(File.ReadAllLines(Reference(approved + ".keys.txt")), keys);
        Assert.Equal(File.ReadAllText(Reference(approved + ".adapter_config.json")), File.ReadAllText(Path.Combine(dir, "adapter_config.json")));
        Assert.Equal(f.Model.Config.ToJson(), File.ReadAllText(Path.Combine(dir, "config.json")));
        if (f.Model.Config.TieWordEmbeddings)
            Assert.Equal(file.Load("base_model.model.model.embed_tokens.weight").ToFloatArray(), file.Load("base_model.model.lm_head.weight").ToFloatArray());
    }

    [Fact]
    public void DoRA_magnitudes_are_saved_without_weight_as_PEFT_does_and_all_linear_stays_a_string()
    {
        using var model = CausalLM.Load(CausalLMTests.Dir("llama-gqa-tiny"));
        model.AddAdapter("default", new LoraConfig { UseDora = true, TargetModules = [LoraConfig.AllLinear] }, seed: 1);
        PeftAdapter.Save(model, "default", _tmp, null);
        using var file = new SafeTensorsFile(Path.Combine(_tmp, "adapter_model.safetensors"));
        Assert.Contains("base_model.model.model.layers.0.mlp.down_proj.lora_magnitude_vector", file.Names);
        Assert.Equal(2 * 7 * 3, file.Names.Count());
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(_tmp, "adapter_config.json")))!;
        Assert.Equal("all-linear", (string?)json["target_modules"]);
        Assert.Null(json["base_model_name_or_path"]);
        Assert.Null(json["modules_to_save"]);
    }

    [Theory]
    [InlineData("llama-gqa")]
    [InlineData("llama-gqa-dora")]
    [InlineData("llama-gqa-rslora")]
    [InlineData("llama-gqa-embed-norm")]
    [InlineData("qwen2-tied-embed-norm")]
    public void A_folder_in_PEFTs_format_gives_PyTorchs_logits(string name)
    {
        using var model = CausalLM.Load(BaseOf(name));
        var bare = Logits(model);
        PeftAdapter.Load(model, Reference(name));
        CausalLMTests.AssertRelative(Expected(name), Logits(model), 1e-4);
        if (name.EndsWith("embed-norm", StringComparison.Ordinal))
            return; // loading modules_to_save replaced the base weights: documented
        model.SetActiveAdapter(null);
        Assert.Equal(bare, Logits(model));
    }

    [Fact]
    public void Keys_with_the_adapter_name_inside_load_too()
    {
        using (var source = SafeTensorsCheckpoint.Open(Reference("llama-gqa-dora"), "adapter_model"))
        {
            var renamed = source.Names.Select(n => (n.EndsWith("magnitude_vector", StringComparison.Ordinal) ? n + ".default.weight" : n.Replace(".weight", ".default.weight"), source.Load(n))).ToList();
            SafeTensorsWriter.Write(Path.Combine(_tmp, "adapter_model.safetensors"), renamed);
            foreach (var (_, t) in renamed)
                t.Dispose();
        }
        File.Copy(Path.Combine(Reference("llama-gqa-dora"), "adapter_config.json"), Path.Combine(_tmp, "adapter_config.json"));
        using var model = CausalLM.Load(CausalLMTests.Dir("llama-gqa-tiny"));
        PeftAdapter.Load(model, _tmp);
        CausalLMTests.AssertRelative(Expected("llama-gqa-dora"), Logits(model), 1e-4);
    }

    [Fact]
    public void Several_adapters_load_under_their_names_and_switch()
    {
        using var model = CausalLM.Load(CausalLMTests.Dir("llama-gqa-tiny"));
        PeftAdapter.Load(model, Reference("llama-gqa"), "plain");
        PeftAdapter.Load(model, Reference("llama-gqa-dora"), "dora");
        Assert.Equal("dora", model.ActiveAdapter);
        CausalLMTests.AssertRelative(Expected("llama-gqa-dora"), Logits(model), 1e-4);
        model.SetActiveAdapter("plain");
        CausalLMTests.AssertRelative(Expected("llama-gqa"), Logits(model), 1e-4);
        var error = Assert.Throws<ArgumentException>(() => PeftAdapter.Load(model, Reference("llama-gqa-rslora"), "plain"));
        Assert.Contains("'plain' exists already", error.Message);
    }

    [Fact]
    public void The_context_an_adapter_was_trained_at_travels_with_it()
    {
        using var f = new LoraFixture("llama-gqa");
        f.Model.ExtendContext(512, RopeType.Yarn);
        PeftAdapter.Save(f.Model, "default", _tmp, null);
        using var model = CausalLM.Load(CausalLMTests.Dir("llama-gqa-tiny"));
        PeftAdapter.Load(model, _tmp);
        Assert.Equal(128, model.Config.MaxPositionEmbeddings);
        Assert.True(PeftAdapter.ExtendContextFrom(model, _tmp));
        Assert.Equal(512, model.Config.MaxPositionEmbeddings);
        Assert.Equal(f.Model.Config.Rope with { }, model.Config.Rope);
        Assert.Equal(Logits(f.Model), Logits(model));
        Assert.False(PeftAdapter.ExtendContextFrom(model, _tmp));
    }

    private const string Tied = "qwen2-tied-embed-norm", HeadKey = "base_model.model.lm_head.weight", EmbeddingKey = "base_model.model.model.embed_tokens.weight";

    [Fact]
    public void A_tied_head_entry_gives_PEFT_our_logits_and_without_it_PEFT_would_differ()
    {
        using var model = CausalLM.Load(BaseOf(Tied));
        PeftAdapter.Load(model, Reference(Tied));
        var ours = Logits(model);
        CausalLMTests.AssertRelative(Expected(Tied), ours, 1e-4);
        var without = Expected(Tied, "logits_without_lm_head");
        double scale = without.Max(x => Math.Abs((double)x));
        Assert.True(ours.Zip(without).Max(p => Math.Abs(p.First - p.Second)) > 0.05 * scale, "PEFT without lm_head keeps the base head: other logits");

        // What rawlora writes for this model is, tensor for tensor, the Python-written folder.
        using var scope = new DisposeScope();
        PeftAdapter.Save(model, "default", _tmp, null);
        using var written = SafeTensorsCheckpoint.Open(_tmp, "adapter_model");
        using var python = SafeTensorsCheckpoint.Open(Reference(Tied), "adapter_model");
        Assert.Equal(python.Names.Order(StringComparer.Ordinal), written.Names.Order(StringComparer.Ordinal));
        foreach (string name in python.Names)
            Assert.Equal(python.Load(name, DType.F32).ToFloatArray(), written.Load(name, DType.F32).ToFloatArray());
    }

    [Theory]
    [InlineData(true, false)] // PEFT 0.18's layout: ensure_weight_tying, modules_to_save without lm_head, both keys in the file
    [InlineData(false, true)] // older PEFT, both modules listed, each its own copy of the same values
    public void Both_PEFT_layouts_of_a_tied_head_load(bool ensureWeightTying, bool listHead)
    {
        string dir = BrokenCopy(Tied, config: c =>
        {
            c["ensure_weight_tying"] = ensureWeightTying;
            c["modules_to_save"] = listHead ? new JsonArray("embed_tokens", "norm", "lm_head") : new JsonArray("embed_tokens", "norm");
        });
        using var model = CausalLM.Load(BaseOf(Tied));
        PeftAdapter.Load(model, dir);
        CausalLMTests.AssertRelative(Expected(Tied), Logits(model), 1e-4);
        Assert.Equal(LoraConfig.EmbeddingAndNorms, model.AdapterConfig("default").ModulesToSave);
    }

    [Fact]
    public void A_tied_head_that_differs_from_the_embedding_is_refused()
    {
        string dir = BrokenCopy(Tied, tensors: t => [.. t.Select(e => e.Name == HeadKey ? (e.Name, e.T.Scale(1.01f)) : e)]);
        var e = LoadFails<SafeTensorsException>(dir, BaseOf(Tied));
        Assert.Equal("tied", e.Rule);
        Assert.Equal(HeadKey, e.Tensor);
        Assert.Contains(Path.Combine(dir, "adapter_model.safetensors"), e.Message);
        Assert.Contains(EmbeddingKey, e.Message);
    }

    [Fact]
    public void A_tied_embedding_trained_without_its_head_is_refused()
    {
        // The layout PEFT reads as "embedding trained, head the base's": this engine cannot compute that model.
        string dir = BrokenCopy(Tied, config: c =>
        {
            c.Remove("ensure_weight_tying");
            c["modules_to_save"] = new JsonArray("embed_tokens", "norm");
        }, tensors: t => [.. t.Where(e => e.Name != HeadKey)]);
        var e = LoadFails<ConfigException>(dir, BaseOf(Tied));
        Assert.Equal(Path.Combine(dir, "adapter_config.json"), e.File);
        Assert.Equal("modules_to_save", e.Field);
        Assert.Contains("embed_tokens but not lm_head", e.Message);
        Assert.Contains("ensure_weight_tying", e.Message);

        // With ensure_weight_tying PEFT ties the head but needs its key, as this engine does.
        var missing = LoadFails<SafeTensorsException>(BrokenCopy(Tied, tensors: t => [.. t.Where(e => e.Name != HeadKey)]), BaseOf(Tied));
        Assert.Equal("missing-tensor", missing.Rule);
        Assert.Equal(HeadKey, missing.Tensor);
    }

    /// <summary>A copy of a Python-written adapter folder with its config and tensors edited.</summary>
    private string BrokenCopy(string name, Action<JsonObject>? config = null, Func<List<(string Name, Tensor T)>, List<(string Name, Tensor T)>>? tensors = null)
    {
        string dir = Path.Combine(_tmp, "broken-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var json = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(Reference(name), "adapter_config.json")))!;
        config?.Invoke(json);
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), json.ToJsonString());
        using var scope = new DisposeScope();
        using var source = SafeTensorsCheckpoint.Open(Reference(name), "adapter_model");
        var original = source.Names.Select(n => (n, source.Load(n, DType.F32))).ToList();
        SafeTensorsWriter.Write(Path.Combine(dir, "adapter_model.safetensors"), tensors?.Invoke(original) ?? original);
        return dir;
    }

    private static TException LoadFails<TException>(string dir, string? baseModel = null) where TException : Exception
    {
        using var model = CausalLM.Load(baseModel ?? CausalLMTests.Dir("llama-gqa-tiny"));
        var before = Logits(model);
        var error = Assert.Throws<TException>(() => PeftAdapter.Load(model, dir));
        Assert.Empty(model.AdapterNames);
        Assert.Null(model.ActiveAdapter);
        Assert.DoesNotContain(model.NamedParameters(), p => p.Name.Contains(".lora_", StringComparison.Ordinal));
        Assert.Equal(before, Logits(model));
        Assert.DoesNotContain('\n', error.Message);
        return error;
    }

    [Fact]
    public void A_missing_weights_file_is_named()
    {
        string dir = BrokenCopy("llama-gqa");
        File.Delete(Path.Combine(dir, "adapter_model.safetensors"));
        var e = LoadFails<SafeTensorsException>(dir);
        Assert.Contains(dir, e.Message);
        Assert.Contains("adapter_model.safetensors", e.Message);
        File.Delete(Path.Combine(dir, "adapter_config.json"));
        Assert.Contains(Path.Combine(dir, "adapter_config.json"), LoadFails<ConfigException>(dir).Message);
    }

    [Fact]
    public void A_tensor_for_a_module_that_does_not_exist_is_named()
    {
        string dir = BrokenCopy("llama-gqa", tensors: t => [.. t.Select(e => (e.Name.Replace("layers.1.self_attn.q_proj", "layers.7.self_attn.q_proj"), e.T))]);
        var e = LoadFails<SafeTensorsException>(dir);
        Assert.Equal("unexpected-tensor", e.Rule);
        Assert.Equal("base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight", e.Tensor);
        Assert.Contains("adapter_model.safetensors", e.Message);
    }

    [Fact]
    public void A_missing_tensor_is_named()
    {
        string dir = BrokenCopy("llama-gqa", config: c => c["target_modules"] = new JsonArray("q_proj", "k_proj", "v_proj", "o_proj", "up_proj"));
        var e = LoadFails<SafeTensorsException>(dir);
        Assert.Equal("missing-tensor", e.Rule);
        Assert.Equal("base_model.model.model.layers.0.mlp.up_proj.lora_A.weight", e.Tensor);
    }

    [Fact]
    public void A_shape_mismatch_is_named()
    {
        var e = LoadFails<SafeTensorsException>(BrokenCopy("llama-gqa", config: c => c["r"] = 4));
        Assert.Equal("shape", e.Rule);
        Assert.Contains("adapter_model.safetensors", e.Message);
        Assert.Contains("[4, 64]", e.Message);
    }

    [Theory]
    [InlineData("bias", "\"all\"")]
    [InlineData("rank_pattern", "{\"q_proj\": 4}")]
    [InlineData("fan_in_fan_out", "true")]
    [InlineData("target_modules", "\".*proj\"")]
    [InlineData("peft_type", "\"IA3\"")]
    [InlineData("layers_to_transform", "[0]")]
    [InlineData("r", "0")]
    [InlineData("modules_to_save", "[\"lm_head\"]")]
    public void An_unsupported_config_field_is_named(string field, string value)
    {
        var e = LoadFails<ConfigException>(BrokenCopy("llama-gqa", config: c => c[field] = JsonNode.Parse(value)));
        Assert.EndsWith("adapter_config.json", e.File);
        Assert.Contains(field, e.Message);
    }
}
