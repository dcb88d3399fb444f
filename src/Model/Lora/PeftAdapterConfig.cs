using System.Text.Json;
using System.Text.Json.Nodes;

namespace RawLongLoRA.Model;

/// <summary>
/// adapter_config.json, PEFT's LoraConfig as JSON, to and from <see cref="LoraConfig"/>. Reading takes
/// PEFT's defaults where a field is absent (r 8, lora_alpha 8, lora_dropout 0) except target_modules,
/// whose absence means a per-architecture default in PEFT that is better stated than guessed. Fields
/// this engine cannot honour (per-layer ranks, biases, regex targets, ...) are refused by name rather
/// than ignored, since ignoring them would give another model than the one trained.
/// </summary>
internal static class PeftAdapterConfig
{
    public const string FileName = "adapter_config.json";

    /// <summary>PEFT fields whose only supported value is "off": null, false, or empty.</summary>
    private static readonly string[] MustBeOff =
    [
        "rank_pattern", "alpha_pattern", "layers_to_transform", "layer_replication", "fan_in_fan_out", "lora_bias",
        "exclude_modules", "target_parameters", "trainable_token_indices", "megatron_config", "use_qalora",
    ];

    /// <summary>
    /// The JSON PEFT writes for <paramref name="config"/> (keys sorted, as PEFT's save_pretrained does). With
    /// <paramref name="tiedHead"/> (the adapter trains an embedding that is also the LM head) modules_to_save
    /// lists lm_head too and ensure_weight_tying is set: see <see cref="PeftAdapter"/>'s tied-head part.
    /// </summary>
    public static string ToJson(LoraConfig config, string? baseModelPath, bool tiedHead)
    {
        IReadOnlyList<string> saved = tiedHead ? [.. config.ModulesToSave, PeftAdapter.HeadModule] : config.ModulesToSave;
        var fields = new Dictionary<string, JsonNode?>
        {
            ["alpha_pattern"] = new JsonObject(),
            ["base_model_name_or_path"] = baseModelPath,
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["layers_to_transform"] = null,
            ["lora_alpha"] = config.Alpha,
            ["lora_dropout"] = config.Dropout,
            ["modules_to_save"] = saved.Count == 0 ? null : Strings(saved),
            ["peft_type"] = "LORA",
            ["r"] = config.R,
            ["rank_pattern"] = new JsonObject(),
            ["revision"] = null,
            ["target_modules"] = config.TargetModules.Contains(LoraConfig.AllLinear) ? LoraConfig.AllLinear : Strings(config.TargetModules),
            ["task_type"] = "CAUSAL_LM",
            ["use_dora"] = config.UseDora,
            ["use_rslora"] = config.UseRsLora,
        };
        // Only where it matters: PEFT before 0.14 refuses config keys it does not know, and this one came in 0.18.
        if (tiedHead)
            fields["ensure_weight_tying"] = true;
        return new JsonObject(fields.OrderBy(f => f.Key, StringComparer.Ordinal)).ToJsonString(ModelConfig.Indented) + "\n";
    }

    /// <summary>
    /// Reads an adapter_config.json, with PEFT's ensure_weight_tying (false where absent), which says how PEFT
    /// treats a tied LM head; a bad or unsupported field throws <see cref="ConfigException"/> naming the file and the field.
    /// </summary>
    public static (LoraConfig Config, bool EnsureWeightTying) Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(path, null, $"cannot read the adapter config: {e.Message}", e);
        }
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new ConfigException(path, null, $"is not valid JSON: {e.Message}", e);
        }
        if (node is not JsonObject root)
            throw new ConfigException(path, null, "is not a JSON object");

        var r = new ConfigReader(path, root);
        string? peftType = r.OptionalString("peft_type");
        if (peftType is null)
            r.Missing("peft_type");
        else
            r.Check(peftType == "LORA", "peft_type", $"'peft_type' is '{peftType}'; supported: LORA");
        string? task = r.OptionalString("task_type");
        r.Check(task is null or "CAUSAL_LM", "task_type", $"'task_type' is '{task}'; supported: CAUSAL_LM");
        string? bias = r.OptionalString("bias");
        r.Check(bias is null or "none", "bias", $"'bias' is '{bias}'; supported: none (the adapter trains no biases)");
        foreach (string key in MustBeOff)
            r.Check(IsOff(root[key]), key, $"'{key}' is {Short(root[key])}; not supported (only null, false or empty)");

        var targets = TargetModules(r, root);
        var config = new LoraConfig
        {
            R = r.OptionalPositiveInt("r") ?? 8,
            Alpha = r.OptionalNumber("lora_alpha") ?? 8,
            Dropout = (float)(r.OptionalNumber("lora_dropout") ?? 0),
            UseRsLora = r.OptionalBool("use_rslora") ?? false,
            UseDora = r.OptionalBool("use_dora") ?? false,
            TargetModules = targets,
            ModulesToSave = r.OptionalStrings("modules_to_save") ?? [],
        };
        bool ensureWeightTying = r.OptionalBool("ensure_weight_tying") ?? false;
        r.ThrowIfAny();
        try
        {
            config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ConfigException(path, e.ParamName, e.Message, e);
        }
        return (config, ensureWeightTying);
    }

    /// <summary>A list of names, or PEFT's "all-linear"; any other string is a regex in PEFT, which is refused.</summary>
    private static string[] TargetModules(ConfigReader r, JsonObject root)
    {
        if (root["target_modules"] is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            string s = v.GetValue<string>();
            r.Check(s == LoraConfig.AllLinear, "target_modules",
                $"'target_modules' is the string '{s}', which PEFT reads as a regular expression; supported: a list of module names, or \"all-linear\"");
            return [LoraConfig.AllLinear];
        }
        var list = r.OptionalStrings("target_modules");
        if (list is null && root["target_modules"] is null)
            r.Missing("target_modules");
        return list ?? [];
    }

    private static bool IsOff(JsonNode? n) => n switch
    {
        null => true,
        JsonObject o => o.Count == 0,
        JsonArray a => a.Count == 0,
        _ => n.GetValueKind() == JsonValueKind.False,
    };

    private static string Short(JsonNode? n)
    {
        string text = n?.ToJsonString() ?? "null";
        return text.Length > 60 ? text[..57] + "..." : text;
    }

    private static JsonArray Strings(IEnumerable<string> items) => new([.. items.Select(s => (JsonNode?)JsonValue.Create(s))]);
}
