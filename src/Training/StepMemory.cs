using System.Globalization;
using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// About how much memory one training step will take, before anything is allocated: the weights in
/// their dtype, the trained tensors with their gradients and AdamW moments (16 bytes a value), the
/// activations the backward pass keeps (every layer's, or each layer's input and one layer's when
/// layers are recomputed) and the LM head's logits tile. Calibrated against measured tensor peaks
/// (StepMemoryTests: from -20% to +25% on small Llama shapes), it is meant to refuse what cannot
/// fit, not to plan to the megabyte.
/// </summary>
public static class StepMemory
{
    /// <summary>
    /// Float32 values a token keeps per decoder layer without recomputation: the normed inputs, the
    /// projections with their LoRA outputs, RoPE'd q/k and the attention output (≈ 23 hidden-sized
    /// vectors, measured; 4 more for each adapted module's dropout copy), and the MLP's gate, up and
    /// product (3 intermediate-sized).
    /// </summary>
    private static double LayerValuesPerToken(ModelConfig c, LoraConfig lora) =>
        (23.0 + (lora.Dropout > 0 ? 4 : 0)) * c.HiddenSize + 3.0 * c.IntermediateSize;

    /// <summary>
    /// The bytes a training step of <paramref name="o"/>'s shape needs for a model of config <paramref name="c"/>, by
    /// part, before anything is loaded.
    /// </summary>
    public static StepMemoryEstimate Estimate(ModelConfig c, TrainOptions o)
    {
        var lora = o.Lora;
        double tokens = (double)o.MaxLength * o.BatchSize;
        double weights = Frozen(c, lora) * (o.WeightDtype == "f32" ? 4 : 2);
        double layer = 4 * tokens * LayerValuesPerToken(c, lora);
        // Beside the layers: the embedding's output, the final norm and their gradients, and the batch's
        // ids, targets and positions (int64, on the host and as tensors).
        double kept = tokens * (4 * (o.GradientCheckpointing ? c.NumLayers * (double)c.HiddenSize : 0) + 16.0 * c.HiddenSize + 48);
        double tile = 4.0 * Math.Min(tokens, 2048) * Math.Min(c.VocabSize, 8192);
        // The logits tile lives at the end of the forward pass; a recomputed layer only in backward.
        double activations = o.GradientCheckpointing ? kept + Math.Max(tile, layer) : kept + c.NumLayers * layer + tile;
        return new StepMemoryEstimate((long)weights, (long)(16 * Trained(c, lora)), (long)Math.Min(activations, long.MaxValue / 4));
    }

    /// <summary>Throws, in one line, when the step needs more than the machine has available.</summary>
    public static void Check(ModelConfig c, TrainOptions o)
    {
        if (Available() is not { } available)
            return;
        var need = Estimate(c, o);
        if (need.Total <= available)
            return;
        throw new ArgumentException(
            $"train: max_length {o.MaxLength} × batch_size {o.BatchSize} needs about {Gib(need.Total)} for a step ({need.Describe()}); " +
            $"this machine has {Gib(available)} available. Lower --max-length or --batch-size" +
            (o.GradientCheckpointing ? "" : ", or turn --gradient-checkpointing on") + " (--memory-check false skips this estimate)");
    }

    /// <summary>
    /// Memory a new allocation can get: /proc/meminfo's MemAvailable, capped by a cgroup v2 limit
    /// (a container's); elsewhere what the runtime says it may use. Null when nothing tells.
    /// </summary>
    public static long? Available()
    {
        if (!OperatingSystem.IsLinux())
            return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes is > 0 and var total ? total : null;
        long? available = ProcessMemory.KilobyteField("/proc/meminfo", "MemAvailable");
        if (ReadLong("/sys/fs/cgroup/memory.max") is { } max && ReadLong("/sys/fs/cgroup/memory.current") is { } current)
            available = Math.Min(available ?? long.MaxValue, Math.Max(0, max - current));
        return available;
    }

    private static double Trained(ModelConfig c, LoraConfig lora)
    {
        long h = c.HiddenSize, q = (long)c.NumHeads * c.HeadDim, kv = (long)c.NumKvHeads * c.HeadDim, f = c.IntermediateSize;
        (string Key, long In, long Out)[] linears =
            [("q_proj", h, q), ("k_proj", h, kv), ("v_proj", h, kv), ("o_proj", q, h), ("gate_proj", h, f), ("up_proj", h, f), ("down_proj", f, h)];
        double perLayer = linears.Where(l => lora.Targets("model.layers.0.self_attn." + l.Key) || lora.Targets("model.layers.0.mlp." + l.Key))
            .Sum(l => lora.R * (double)(l.In + l.Out) + (lora.UseDora ? l.Out : 0));
        perLayer += lora.Saves("model.layers.0.input_layernorm") ? 2.0 * h : 0;
        return c.NumLayers * perLayer + (lora.Saves("model.embed_tokens") ? (double)c.VocabSize * h : 0) + (lora.Saves("model.norm") ? h : 0);
    }

    /// <summary>Values of the weights that stay frozen (a trained embedding is counted with the trained tensors).</summary>
    private static double Frozen(ModelConfig c, LoraConfig lora)
    {
        double h = c.HiddenSize, q = (double)c.NumHeads * c.HeadDim, kv = (double)c.NumKvHeads * c.HeadDim, f = c.IntermediateSize;
        double layer = h * q + 2 * h * kv + q * h + 3 * h * f;
        int embeddings = (c.TieWordEmbeddings ? 1 : 2) - (lora.Saves("model.embed_tokens") ? 1 : 0);
        return c.NumLayers * layer + c.VocabSize * h * embeddings;
    }

    private static long? ReadLong(string path)
    {
        try
        {
            return File.Exists(path) && long.TryParse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture, out long v) ? v : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    internal static string Gib(long bytes) => $"{bytes / (double)(1L << 30):F1} GiB";
}

/// <summary>The parts of <see cref="StepMemory.Estimate"/>, in bytes; activations include the LM head's logits tile.</summary>
public sealed record StepMemoryEstimate(long Weights, long Trained, long Activations)
{
    /// <summary>Weights + Trained + Activations, in bytes.</summary>
    public long Total => Weights + Trained + Activations;

    /// <summary>The parts in GiB, for messages.</summary>
    public string Describe() =>
        $"weights {StepMemory.Gib(Weights)}, trained tensors with gradients and AdamW state {StepMemory.Gib(Trained)}, activations {StepMemory.Gib(Activations)}";
}
