namespace RawLongLoRA.Training;

/// <summary>
/// A step's predicted peak memory in bytes (<see cref="StepMemory.Estimate"/>), by what holds it at the
/// moment of the peak. Weights count whether they are allocated (converted to the weight dtype) or
/// memory-mapped from the checkpoint (already in it), since the step reads every page of them; train
/// reports mapped ones apart (metrics.jsonl: peak_tensor_bytes + mapped_weight_bytes).
/// </summary>
public sealed record MemoryPlan
{
    /// <summary>Frozen weights in their dtype, frozen norms and biases, the RoPE tables.</summary>
    public long Weights { get; init; }

    /// <summary>
    /// The trained tensors' float32 values and AdamW's two moments of each; with more than one rank, also data
    /// parallelism's gradient buckets.
    /// </summary>
    public long TrainedState { get; init; }

    /// <summary>At the peak: the trained tensors' gradients made so far and the activation gradients in flight.</summary>
    public long Gradients { get; init; }

    /// <summary>At the peak: what forward kept for backward (with checkpointing, each layer's input and the one layer recomputed).</summary>
    public long Activations { get; init; }

    /// <summary>The LM head's logits tile, when the peak is in the loss.</summary>
    public long LogitsTile { get; init; }

    /// <summary>The attention kernel's own memory at the peak (tiles, dq partials): not tensors.</summary>
    public long AttentionWorkspace { get; init; }

    /// <summary>The logits tile's size, held only while the loss runs.</summary>
    public long TileSize { get; init; }

    /// <summary>The attention kernel's workspace in backward, held only while attention runs backward.</summary>
    public long WorkspaceSize { get; init; }

    /// <summary>Beside tensors and kernels: the runtime, GEMM pack buffers, allocator fragmentation.</summary>
    public long Slack { get; init; }

    /// <summary>Where in the step the peak falls.</summary>
    public string PeakIn { get; init; } = "";

    /// <summary>
    /// The most tensor bytes live at once: what Storage.PeakBytes measures, plus Storage.MappedBytes when weights are
    /// memory-mapped (maybe at another moment than <see cref="Total"/>'s peak).
    /// </summary>
    public long Tensors { get; init; }

    /// <summary>All of it: what must fit in the device's memory.</summary>
    public long Total => Weights + TrainedState + Gradients + Activations + LogitsTile + AttentionWorkspace + Slack;

    /// <summary>The parts in one line, for messages.</summary>
    public string Describe() =>
        $"weights {StepMemory.Gib(Weights)}, trained tensors with AdamW state {StepMemory.Gib(TrainedState)}, gradients {StepMemory.Gib(Gradients)}, " +
        $"activations {StepMemory.Gib(Activations)}, the rest {StepMemory.Gib(LogitsTile + AttentionWorkspace + Slack)}";
}
