namespace RawLongLoRA.Training;

/// <summary>
/// The checkpoints of a training run: the trained tensors and the optimizer state, with a state object
/// of the caller's (step, data position, RNG offset…), saved into a <see cref="CheckpointStore"/> and read
/// back into the same tensors. <see cref="Trainer"/> resumes through it; a loop of your own does the same
/// with its own TState (any type System.Text.Json round-trips, such as a record).
/// The tensors and the optimizer stay the caller's: this object only reads and writes them.
/// </summary>
public sealed class TrainingCheckpoints
{
    /// <summary>The safetensors file of a checkpoint that holds the trained tensors under their names.</summary>
    public const string TrainableFile = "trainable.safetensors";

    /// <summary>The safetensors file of a checkpoint that holds <see cref="AdamW.ExportState"/>.</summary>
    public const string OptimizerFile = "optimizer.safetensors";

    private readonly IReadOnlyList<(string Name, Tensor Tensor)> _trainable;
    private readonly AdamW _optimizer;

    /// <summary>
    /// Checkpoints of <paramref name="trainable"/> (name, tensor: what <see cref="Model.CausalLM.TrainableParameters"/>
    /// gives) and <paramref name="optimizer"/>'s state under <paramref name="outputDir"/>/checkpoint-&lt;step&gt;/, the newest
    /// <paramref name="keepLast"/> kept.
    /// </summary>
    public TrainingCheckpoints(string outputDir, int keepLast, IReadOnlyList<(string Name, Tensor Tensor)> trainable, AdamW optimizer)
    {
        Store = new CheckpointStore(outputDir, keepLast);
        (_trainable, _optimizer) = (trainable, optimizer);
    }

    /// <summary>The folders the checkpoints go to (atomic saves, keep-last-N, <see cref="CheckpointStore.Latest"/>).</summary>
    public CheckpointStore Store { get; }

    /// <summary>Writes checkpoint-<paramref name="step"/>: the trained tensors, the optimizer state and <paramref name="state"/>.</summary>
    public CheckpointInfo Save<TState>(int step, TState state)
    {
        var optimizerState = _optimizer.ExportState();
        try
        {
            return Store.Save(step, [new CheckpointFile(TrainableFile, _trainable), new CheckpointFile(OptimizerFile, optimizerState)], state);
        }
        finally
        {
            foreach (var (_, t) in optimizerState)
                t.Dispose();
        }
    }

    /// <summary>
    /// Copies the checkpoint at <paramref name="path"/> into the trained tensors and the optimizer and returns its
    /// state. A checkpoint that lacks one of the tensors, or holds it in another shape (made with other LoRA options),
    /// throws <see cref="TrainingException"/> before anything is changed, and so does <paramref name="check"/> (given the
    /// state) when it throws.
    /// </summary>
    public TState Restore<TState>(string path, Action<TState>? check = null)
    {
        using var checkpoint = CheckpointStore.Load<TState>(path);
        check?.Invoke(checkpoint.State);
        var saved = checkpoint.Tensors[TrainableFile].ToDictionary(t => t.Name, t => t.Tensor);
        foreach (var (name, tensor) in _trainable)
            if (!saved.TryGetValue(name, out var value) || !value.Shape.SequenceEqual(tensor.Shape))
                throw new TrainingException($"{path}: {TrainableFile} has no tensor '{name}' of shape [{string.Join(", ", tensor.ShapeArray)}]; " +
                                            "the checkpoint was made with other LoRA options than this run's");
        _optimizer.ImportState(checkpoint.Tensors[OptimizerFile]);
        foreach (var (name, tensor) in _trainable)
            tensor.CopyFrom(saved[name]);
        return checkpoint.State;
    }
}
