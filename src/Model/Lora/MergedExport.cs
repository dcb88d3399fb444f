using System.Text.Json.Nodes;

namespace RawLongLoRA.Model;

/// <summary>
/// A model with its active adapter folded in, written as a plain Hugging Face model folder that
/// transformers (and <see cref="CausalLM.Load(string, DType)"/>) read with no PEFT: config.json from
/// <see cref="CausalLM.Config"/> (so a context extension's rope scaling and max_position_embeddings are
/// in it) with its dtype set to the one written, the weights under their HF keys only (no lora_*; a tied
/// embedding once), sharded past <c>shardBytes</c>, and the base folder's tokenizer files. The folder
/// is built under a temporary sibling and renamed into place, so a failure never leaves a folder that
/// looks complete. Each adapted weight is folded into a copy, as <see cref="CausalLM.MergeAdapter"/> would
/// fold it, so that the in-memory model is left exactly as it was (an in-place merge and unmerge rounds).
/// </summary>
public static class MergedExport
{
    /// <summary>The files beside the weights that a user of the merged folder needs, copied where the base has them.</summary>
    public static readonly IReadOnlyList<string> TokenizerFiles =
        ["tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"];

    /// <summary>Writes <paramref name="model"/> with its active adapter folded in as a Hugging Face model folder.</summary>
    /// <param name="model">The model; it is left unchanged.</param>
    /// <param name="tokenizerDir">The base model folder whose tokenizer files are copied; null for none.</param>
    /// <param name="outDir">Must not exist, or be empty.</param>
    /// <param name="shardBytes">The most bytes of weights per safetensors file; past it the weights are sharded with an index.</param>
    /// <param name="dtype">The dtype the weights are written in: F32, BF16 or F16.</param>
    public static void Write(CausalLM model, string? tokenizerDir, string outDir, long shardBytes, DType dtype)
    {
        if (!dtype.IsFloat())
            throw new ArgumentException($"merge: the weights can be written as float32, bfloat16 or float16, not {dtype.TorchName()}", nameof(dtype));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shardBytes);
        string target = Path.GetFullPath(outDir.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        if (File.Exists(target) || (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any()))
            throw new IOException($"{target}: already exists and is not an empty folder; choose a new output folder");
        string temp = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        try
        {
            WriteWeights(model, temp, shardBytes, dtype);
            File.WriteAllText(Path.Combine(temp, "config.json"), ConfigJson(model.Config, dtype));
            foreach (string name in TokenizerFiles)
                if (tokenizerDir is not null && File.Exists(Path.Combine(tokenizerDir, name)))
                    File.Copy(Path.Combine(tokenizerDir, name), Path.Combine(temp, name));
            if (Directory.Exists(target))
                Directory.Delete(target);
            Directory.Move(temp, target);
        }
        catch
        {
            Directory.Delete(temp, recursive: true);
            throw;
        }
    }

    /// <summary>Each adapted layer's weight with the active adapter folded in (a copy: the model is not touched), the rest as they are.</summary>
    private static void WriteWeights(CausalLM model, string dir, long shardBytes, DType dtype)
    {
        if (model.ActiveAdapter is not { } active)
            throw new InvalidOperationException("merge: the model has no active adapter to merge");
        using var scope = new DisposeScope();
        using var noGrad = Autograd.NoGrad();
        var folded = model.LinearLayers()
            .Where(l => l.Layer.ActiveAdapter == active && l.Layer.MergedAdapter is null)
            .ToDictionary(l => l.Key + ".weight", l => l.Layer, StringComparer.Ordinal);
        var weights = model.NamedParameters()
            .Where(p => !p.Name.Contains(".lora_", StringComparison.Ordinal))
            .Select(p => (p.Name, folded.TryGetValue(p.Name, out var layer) ? layer.FoldedWeight(active, out _) : p.Tensor))
            .Select(p => (p.Name, p.Item2.DType == dtype ? p.Item2 : p.Item2.To(dtype)));
        SafeTensorsWriter.WriteSharded(dir, weights, shardBytes);
    }

    /// <summary>The config with torch_dtype (and dtype, where the file uses the newer key) naming the written dtype.</summary>
    private static string ConfigJson(ModelConfig config, DType dtype)
    {
        var json = (JsonObject)JsonNode.Parse(config.ToJson())!;
        if (json.ContainsKey("dtype"))
            json["dtype"] = dtype.TorchName();
        if (json.ContainsKey("torch_dtype") || !json.ContainsKey("dtype"))
            json["torch_dtype"] = dtype.TorchName();
        return json.ToJsonString(ModelConfig.Indented) + "\n";
    }
}
