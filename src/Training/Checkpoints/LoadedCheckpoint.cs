namespace RawLongLoRA.Training;

/// <summary>What <see cref="CheckpointStore.Load{TState}"/> read: the trainer state and each safetensors file's tensors, owned here.</summary>
public sealed class LoadedCheckpoint<TState>(int step, string path, TState state, IReadOnlyDictionary<string, IReadOnlyList<(string Name, Tensor Tensor)>> tensors) : IDisposable
{
    /// <summary>The step the checkpoint was saved at.</summary>
    public int Step { get; } = step;
    /// <summary>The checkpoint folder read.</summary>
    public string Path { get; } = path;
    /// <summary>The state object saved with it (trainer_state.json).</summary>
    public TState State { get; } = state;

    /// <summary>By file name ("optimizer.safetensors"), the tensors in the order they were saved.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<(string Name, Tensor Tensor)>> Tensors { get; } = tensors;

    /// <summary>Frees every tensor read.</summary>
    public void Dispose()
    {
        foreach (var list in Tensors.Values)
            foreach (var (_, t) in list)
                t.Dispose();
    }
}
