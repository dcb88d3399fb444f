using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>
/// The record of the op that produced a tensor, for reverse-mode autograd. It lives in this layer
/// only so that <see cref="Tensor.GradFn"/> can name it; the ops and the engine that walks these
/// nodes are in RawLongLoRA.Autograd.
/// </summary>
public abstract class Node
{
    /// <summary>
    /// Records <paramref name="inputs"/>, the tensors the op read, in the order <see cref="Backward"/> returns their
    /// gradients; null for an input that is not a tensor.
    /// </summary>
    protected Node(params Tensor?[] inputs)
    {
        Inputs = inputs;
        foreach (var t in inputs)
            if (t is not null)
                KeepVersion(t);
        Precision = Autocast.Current;
        if (Profiler.IsRecording)
            ProfileFrame = Profiler.CurrentFrame;
    }

    /// <summary>The module scopes this node was made in, while the profiler records: its backward is shown inside them.</summary>
    internal ModuleFrame? ProfileFrame { get; }

    /// <summary>The <see cref="Autocast"/> precision the forward ran at; the engine runs the backward at it too.</summary>
    public Precision Precision { get; }

    /// <summary>The op's name, used in error messages ("rms_norm", "matmul", ...).</summary>
    public abstract string Name { get; }

    /// <summary>The op's inputs, as given to the constructor: the edges the engine follows backwards.</summary>
    public Tensor?[] Inputs { get; }

    /// <summary>Whether input i wants a gradient; backward computes nothing for the others.</summary>
    public bool NeedsGrad(int i) => Inputs[i] is { RequiresGrad: true };

    /// <summary>Gradients of the inputs given the gradient of the output (null where not needed).</summary>
    public abstract Tensor?[] Backward(Tensor gradOutput);

    private List<Tensor>? _owned;

    /// <summary>
    /// Takes ownership of tensors the op saved for backward that are neither its inputs nor its output
    /// (statistics, contiguous copies): they go when the output tensor is disposed, not with a scope.
    /// </summary>
    public void Own(Tensor t)
    {
        (_owned ??= []).Add(t.DetachFromScope());
        KeepVersion(t);
    }

    // What backward may read (the inputs, the output, what the op owns) and each one's storage version
    // then: written in place since, backward would compute from other values than the forward did.
    private List<(Tensor Tensor, Storage Storage, int Version)>? _versions;

    /// <summary>Remembers <paramref name="t"/>'s storage version now, for <see cref="CheckVersions"/>.</summary>
    internal void KeepVersion(Tensor t)
    {
        var storage = t.Storage;
        (_versions ??= []).Add((t, storage, storage.Version));
    }

    /// <summary>
    /// Throws, naming this op and the tensor, when a tensor it saved was written in place after the op ran (as
    /// torch's "modified by an inplace operation"); the engine calls it before <see cref="Backward"/>.
    /// </summary>
    public void CheckVersions()
    {
        if (_versions is null)
            return;
        foreach (var (t, storage, version) in _versions)
            if (storage.Version != version)
                throw new InvalidOperationException(
                    $"backward of {Name}: {t.Describe()}, which {Name} saved for backward, was written in place afterwards " +
                    $"(version {version}, now {storage.Version}); write into a copy (Clone) instead, or before the op");
    }

    internal void ReleaseOwned()
    {
        if (_owned is null)
            return;
        foreach (var t in _owned)
            t.Dispose();
        _owned = null;
    }
}
