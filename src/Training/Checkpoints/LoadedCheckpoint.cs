namespace RawLongLoRA.Training;

/// <summary>What <see cref="CheckpointStore.Load{TState}"/> read: the trainer state and each safetensors file's tensors, owned here.</summary>
public sealed class LoadedCheckpoint<TState>(int step, string path, TState state, IReadOnlyDictionary<string, IReadOnlyList<(string Name, Tensor Tensor)>> tensors) : IDisposable
{
    public int Step { get; } = step;
    public string Path { get; } = path;
    public TState State { get; } = state;

    /// <summary>By file name ("optimizer.safetensors"), the tensors in the order they were saved.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<(string Name, Tensor Tensor)>> Tensors { get; } = tensors;

    public void Dispose()
    {
        foreach (var list in Tensors.Values)
            foreach (var (_, t) in list)
                t.Dispose();
    }
}
