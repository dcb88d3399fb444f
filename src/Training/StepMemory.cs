using System.Globalization;
using RawLongLoRA.Kernels.Cpu;
using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// The memory one training step takes, predicted before anything is allocated: the one model that
/// <c>rawlora train</c> checks a run against and <c>rawlora plan</c> reports. It follows the step's
/// allocations as the code makes them (<see cref="ActivationValues"/>, <see cref="ParameterCounts"/>)
/// through the moments that can hold the most — backward through the LM head, through a layer's MLP,
/// through its attention kernel, and the embedding's gradient — in a steady step (AdamW's moments exist,
/// the last step's gradients are gone). Validated against Storage.PeakBytes of real steps in
/// StepMemoryTests (within 15%).
/// </summary>
public static class StepMemory
{
    private const double F32 = 4;

    /// <summary>The step's peak, by what holds it; <see cref="MemoryPlan.Tensors"/> is what Storage.PeakBytes measures.</summary>
    public static MemoryPlan Estimate(StepShape s)
    {
        var c = s.Config;
        var values = new ActivationValues(c, s.Lora);
        var counts = new ParameterCounts(c, s.Lora);
        double n = s.RankTokens, h = c.HiddenSize;
        // The RoPE tables grow to the row's length: cos and sin, head_dim / 2 each per position.
        double weights = counts.FrozenMatrices * (double)s.WeightDtype.Size() + F32 * (counts.FrozenFloat32 + (double)s.Tokens * c.HeadDim);
        double trained = 3 * F32 * counts.Trained + GradientBuckets(s, counts);
        double headGrad = counts.HeadTrained ? F32 * counts.Embedding : 0;
        // Adapter and norm gradients appear layer by layer; counted whole from the first layer on.
        double layerGrads = F32 * (counts.Trained - (counts.EmbeddingTrained ? counts.Embedding : 0)) + headGrad;
        bool inputFrozen = !counts.EmbeddingTrained && !s.Lora.Saves("model.layers.0.input_layernorm");
        double layer = values.Layer + SequenceParallelMemory.LayerValues(s);
        double layers = s.GradientCheckpointing ? c.NumLayers * h : c.NumLayers * layer - (inputFrozen ? values.FirstLayerUnrecorded : 0);
        double kept = F32 * n * (values.Beside + layers);
        double recomputed = s.GradientCheckpointing ? F32 * n * layer : 0;
        double tile = F32 * Math.Min(n, CrossEntropyOp.TokenChunk) * Math.Min(c.VocabSize, CrossEntropyOp.VocabChunk);
        long workspace = SequenceParallelMemory.Workspace(s, s.Device.IsCpu ? CpuThreads.Count : 1);
        List<Moment> moments =
        [
            new("backward through the LM head", kept, F32 * n * (h + 1) + headGrad, tile, 0),
            new("backward through an MLP", kept + recomputed, layerGrads + F32 * n * values.MlpBackward, 0, 0),
            new("backward through attention", kept + recomputed, layerGrads + F32 * n * (values.AttentionBackward + SequenceParallelMemory.AttentionBackwardValues(s)), 0, workspace),
        ];
        if (counts.EmbeddingTrained)
            moments.Add(new("the embedding's gradient", kept, layerGrads + F32 * (n * h + counts.Embedding), 0, 0));
        double tensors = moments.Max(m => m.Tensors) + weights + trained;
        var peak = moments.MaxBy(m => m.Tensors + m.Workspace)!;
        double total = weights + trained + peak.Tensors + peak.Workspace;
        return new MemoryPlan
        {
            Weights = Bytes(weights),
            TrainedState = Bytes(trained),
            Gradients = Bytes(peak.Gradients),
            Activations = Bytes(peak.Activations),
            LogitsTile = Bytes(peak.Tile),
            AttentionWorkspace = Bytes(peak.Workspace),
            TileSize = Bytes(tile),
            WorkspaceSize = workspace,
            Slack = Bytes(Slack(s.Device, total)),
            PeakIn = peak.Name,
            Tensors = Bytes(tensors),
        };
    }

    /// <summary>
    /// With more than one rank, data parallelism's buckets: a float32 copy of every trained gradient smaller than a
    /// bucket, kept for the run (a gradient of a bucket's size or more, such as a trained embedding's, is reduced in place).
    /// </summary>
    private static double GradientBuckets(StepShape s, ParameterCounts counts)
    {
        if (s.SequenceParallel * s.DataParallel == 1)
            return 0;
        bool embeddingInPlace = counts.EmbeddingTrained && F32 * counts.Embedding >= Distributed.DataParallel.DefaultBucketBytes;
        return F32 * (counts.Trained - (embeddingInPlace ? counts.Embedding : 0));
    }

    /// <summary>
    /// Memory beside the tensors and kernels: on the CPU the .NET runtime, the GEMM pack buffers (8.5 MB
    /// a thread) and the allocator's rounding, 160 MiB and 3% (bench step's peak resident memory is 150 to
    /// 230 MB above its tensors at 8K and 32K tokens); on a GPU the CUDA context and cuBLAS workspace
    /// (≈ 1 GiB) and a caching allocator's fragmentation, 10% — assumptions until the CUDA backend
    /// measures them.
    /// </summary>
    private static double Slack(Device device, double bytes) => device.IsCpu ? 160.0 * (1 << 20) + 0.03 * bytes : (1L << 30) + 0.10 * bytes;

    private static long Bytes(double b) => (long)Math.Min(b, long.MaxValue / 4);

    /// <summary>What is held beside the weights and the trained state at one moment of the step.</summary>
    private sealed record Moment(string Name, double Activations, double Gradients, double Tile, double Workspace)
    {
        public double Tensors => Activations + Gradients + Tile;
    }

    /// <summary>
    /// Throws, in one line, when the step of one rank of <paramref name="ranks"/> (1: one process; see
    /// <see cref="StepShape.Of"/>) needs more than the machine has available.
    /// </summary>
    public static void Check(ModelConfig c, TrainOptions o, int ranks = 1)
    {
        if (Available() is { } available)
            Check(c, o, ranks, available);
    }

    /// <summary>Throws, in one line, when the step of one rank of <paramref name="ranks"/> needs more than <paramref name="available"/> bytes.</summary>
    internal static void Check(ModelConfig c, TrainOptions o, int ranks, long available)
    {
        var need = Estimate(StepShape.Of(c, o, ranks));
        if (need.Total <= available)
            return;
        bool split = o.SpSize > 1;
        throw new ArgumentException(
            $"train: max_length {o.MaxLength} × batch_size {o.BatchSize}{(split ? $" split across sp_size {o.SpSize} ranks" : "")} needs about {Gib(need.Total)}" +
            $"{(split ? " a rank" : "")} for a step ({need.Describe()}); this machine has {Gib(available)} available. Lower --max-length or --batch-size" +
            (o.GradientCheckpointing ? "" : ", or turn --gradient-checkpointing on") + (split ? ", or raise --sp-size" : "") + " (--memory-check false skips this estimate)");
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
