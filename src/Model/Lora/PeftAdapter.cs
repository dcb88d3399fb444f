using System.Text.RegularExpressions;

namespace RawLongLoRA.Model;

/// <summary>
/// A named adapter of a <see cref="CausalLM"/> as a Hugging Face PEFT adapter folder, which PEFT's
/// PeftModel.from_pretrained loads unchanged: adapter_config.json (<see cref="PeftAdapterConfig"/>) and
/// adapter_model.safetensors with get_peft_model_state_dict's keys — base_model.model.&lt;key&gt;.lora_A.weight,
/// .lora_B.weight, DoRA's .lora_magnitude_vector (no ".weight": PEFT keeps its pre-0.10 name), and each
/// modules_to_save module as base_model.model.&lt;key&gt;.weight. Here modules_to_save train the base
/// weights in place, so saving writes the base weights as they are, and loading an adapter with
/// modules_to_save replaces those base weights (for every adapter of the model). A trained embedding
/// that is also the LM head is written for lm_head too (PeftAdapter.TiedHead.cs).
/// </summary>
public static partial class PeftAdapter
{
    /// <summary>The weights file's name without extension: adapter_model.safetensors.</summary>
    public const string WeightsName = "adapter_model";
    /// <summary>
    /// What PEFT puts before a base model key in an adapter file ("base_model.model.model.layers.0...").
    /// </summary>
    public const string Prefix = "base_model.model.";

    /// <summary>
    /// Writes adapter <paramref name="adapterName"/> to <paramref name="dir"/>, with the model's config.json
    /// beside it so that a context extension (rope scaling, max_position_embeddings) travels with the
    /// adapter (see <see cref="ExtendContextFrom"/>). Each file is written atomically.
    /// </summary>
    public static void Save(CausalLM model, string adapterName, string dir, string? baseModelPath)
    {
        var config = model.AdapterConfig(adapterName);
        Directory.CreateDirectory(dir);
        SafeTensorsWriter.Write(Path.Combine(dir, WeightsName + ".safetensors"), Tensors(model, adapterName));
        AtomicFile.Write(Path.Combine(dir, "config.json"), s => s.Write(System.Text.Encoding.UTF8.GetBytes(model.Config.ToJson())));
        AtomicFile.Write(Path.Combine(dir, PeftAdapterConfig.FileName),
            s => s.Write(System.Text.Encoding.UTF8.GetBytes(PeftAdapterConfig.ToJson(config, baseModelPath, TrainsTiedHead(model, config)))));
    }

    /// <summary>
    /// Attaches the adapter in <paramref name="dir"/> under <paramref name="adapterName"/> and makes it the
    /// active one. Every tensor must be one the config implies, with its shape, and none may be missing;
    /// the model is left as it was when anything is wrong. Keys with an adapter name inside
    /// (".lora_A.default.weight", as a PEFT model's own state_dict has them) are accepted too. On a model
    /// with tied embeddings, an adapter that trains them must make PEFT train both sides alike (see
    /// PeftAdapter.TiedHead.cs).
    /// </summary>
    public static void Load(CausalLM model, string dir, string adapterName = "default")
    {
        if (model.AdapterNames.Contains(adapterName))
            throw new ArgumentException($"lora: an adapter named '{adapterName}' exists already", nameof(adapterName));
        string configPath = Path.Combine(dir, PeftAdapterConfig.FileName);
        if (!File.Exists(configPath))
            throw new ConfigException(configPath, null, "no such file (a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors)");
        var (peftConfig, ensureWeightTying) = PeftAdapterConfig.Read(configPath);
        var config = WithTiedHead(model, peftConfig, ensureWeightTying, configPath);
        using var file = SafeTensorsCheckpoint.Open(dir, WeightsName);
        var byKey = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string name in file.Names)
        {
            string key = Canonical(name);
            if (!byKey.TryAdd(key, name))
                throw new SafeTensorsException(file.Path, name, "duplicate-tensor", $"it is the same tensor as '{byKey[key]}'");
        }

        string? previous = model.ActiveAdapter;
        try
        {
            model.AddAdapter(adapterName, config, seed: 0);
        }
        catch (ArgumentException e)
        {
            throw new ConfigException(configPath, null, e.Message, e);
        }
        try
        {
            var wanted = Tensors(model, adapterName).ToList();
            Check(file, config, byKey, wanted);
            if (TrainsTiedHead(model, config))
                CheckTiedHead(file, byKey);
            using (Autograd.NoGrad())
                foreach (var (key, tensor) in wanted.DistinctBy(w => w.Tensor))
                    using (var value = file.Load(byKey[key], DType.F32))
                        tensor.CopyFrom(value);
        }
        catch
        {
            model.DeleteAdapter(adapterName);
            model.SetActiveAdapter(previous);
            throw;
        }
    }

    /// <summary>
    /// Takes the RoPE and max_position_embeddings of the config.json saved beside an adapter when it reaches
    /// further than the model's (an adapter trained at an extended context needs that scaling); returns
    /// whether it did.
    /// </summary>
    public static bool ExtendContextFrom(CausalLM model, string dir)
    {
        string path = Path.Combine(dir, "config.json");
        if (!File.Exists(path))
            return false;
        var trained = ModelConfig.Load(path);
        if (trained.HiddenSize != model.Config.HiddenSize || trained.NumLayers != model.Config.NumLayers || trained.VocabSize != model.Config.VocabSize)
            throw new ConfigException(path, null, $"describes another model (hidden_size {trained.HiddenSize}, {trained.NumLayers} layers, vocab {trained.VocabSize}) " +
                                                  $"than the base (hidden_size {model.Config.HiddenSize}, {model.Config.NumLayers} layers, vocab {model.Config.VocabSize})");
        if (trained.MaxPositionEmbeddings <= model.Config.MaxPositionEmbeddings)
            return false;
        model.SetRope(trained.Rope, trained.MaxPositionEmbeddings);
        return true;
    }

    /// <summary>
    /// The adapter's tensors under PEFT's saved keys: its A, B (and magnitude) per layer, then its modules_to_save,
    /// then a trained tied embedding once more as lm_head.
    /// </summary>
    private static IEnumerable<(string Key, Tensor Tensor)> Tensors(CausalLM model, string adapterName)
    {
        var config = model.AdapterConfig(adapterName);
        foreach (var (key, layer) in model.LinearLayers())
        {
            if (!layer.Adapters.TryGetValue(adapterName, out var adapter))
                continue;
            yield return ($"{Prefix}{key}.lora_A.weight", adapter.A);
            yield return ($"{Prefix}{key}.lora_B.weight", adapter.B);
            if (adapter.Magnitude is not null)
                yield return ($"{Prefix}{key}.lora_magnitude_vector", adapter.Magnitude);
        }
        foreach (var (key, module) in model.SavableModules())
            if (config.Saves(key))
                yield return ($"{Prefix}{key}.weight", CausalLM.WeightOf(module));
        if (TrainsTiedHead(model, config))
            yield return (HeadKey, model.EmbedTokens.Weight);
    }

    private static void Check(SafeTensorsCheckpoint file, LoraConfig config, Dictionary<string, string> byKey, List<(string Key, Tensor Tensor)> wanted)
    {
        var keys = wanted.Select(w => w.Key).ToHashSet(StringComparer.Ordinal);
        var unknown = byKey.Where(k => !keys.Contains(k.Key)).Select(k => k.Value).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            throw new SafeTensorsException(file.Path, unknown[0], "unexpected-tensor",
                $"adapter_config.json (target_modules [{string.Join(", ", config.TargetModules)}], modules_to_save [{string.Join(", ", config.ModulesToSave)}]) " +
                $"implies no such tensor for this model; {unknown.Count} such tensor(s)");
        foreach (var (key, tensor) in wanted)
        {
            if (!byKey.TryGetValue(key, out var name))
                throw new SafeTensorsException(file.Path, key, "missing-tensor", $"adapter_config.json implies it with shape {Shapes.Format(tensor.Shape)}");
            var info = file.Info(name);
            if (!Shapes.Equal(info.Shape, tensor.Shape))
                throw new SafeTensorsException(file.Path, name, "shape",
                    $"this model and adapter_config.json (r {config.R}) imply shape {Shapes.Format(tensor.Shape)} but the file holds {Shapes.Format(info.Shape)}");
            if (!info.DType.IsFloat())
                throw new SafeTensorsException(file.Path, name, "dtype", $"an adapter tensor must be F32, BF16 or F16, not {info.DType.SafetensorsName()}");
        }
    }

    /// <summary>A saved key without the adapter name a PEFT model's own state_dict has in it.</summary>
    private static string Canonical(string name) => AdapterNameInKey().Replace(name, m => m.Groups[1].Success
        ? $".{m.Groups[1].Value}.weight"
        : m.Groups[2].Success ? ".lora_magnitude_vector" : ".weight");

    [GeneratedRegex(@"\.(lora_A|lora_B)\.[^.]+\.weight$|\.(lora_magnitude_vector)\.[^.]+(?:\.weight)?$|\.modules_to_save\.[^.]+\.weight$")]
    private static partial Regex AdapterNameInKey();
}
