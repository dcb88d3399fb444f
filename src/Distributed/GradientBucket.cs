namespace RawLongLoRA.Distributed;

/// <summary>
/// Gradients reduced in one collective: small ones copied back to back into one float32 buffer (fewer, larger
/// messages, as DDP's buckets), or one gradient at least a bucket's size reduced in place (no second copy of, say, a
/// trained embedding's gradient).
/// </summary>
internal sealed class GradientBucket : IDisposable
{
    private readonly Tensor[] _parameters;
    private readonly Tensor? _flat;
    private ICommRequest? _pending;

    /// <summary>A bucket of <paramref name="parameters"/>; with <paramref name="inPlace"/>, exactly one, reduced where its gradient lies.</summary>
    public GradientBucket(Tensor[] parameters, bool inPlace)
    {
        _parameters = parameters;
        if (!inPlace)
            _flat = Tensor.Empty([checked((int)parameters.Sum(p => p.Numel))], DType.F32, parameters[0].Device).DetachFromScope();
    }

    /// <summary>The parameters whose gradients the bucket reduces, in the order they lie in it.</summary>
    public IReadOnlyList<Tensor> Parameters => _parameters;

    /// <summary>
    /// Starts the sum over <paramref name="group"/> of the bucket's gradients. A parameter that got no gradient on this
    /// rank (no path from its tokens' loss) takes part with zeros, so that every rank's buckets match.
    /// </summary>
    public void Start(ICommunicator group)
    {
        foreach (var p in _parameters)
            p.Grad ??= Tensor.ZerosLike(p, DType.F32).DetachFromScope();
        if (_flat is null)
        {
            _pending = group.StartAllReduce(_parameters[0].Grad!);
            return;
        }
        var backend = _flat.Device.Backend;
        ForEachSlice((slice, grad) => backend.Copy(slice, grad));
        _pending = group.StartAllReduce(_flat);
    }

    /// <summary>Waits for the sum <see cref="Start"/> began and leaves it in the gradients.</summary>
    public void Finish()
    {
        var pending = _pending ?? throw new InvalidOperationException("gradient bucket: Finish without Start");
        _pending = null;
        pending.Wait();
        if (_flat is not null)
        {
            var backend = _flat.Device.Backend;
            ForEachSlice((slice, grad) => backend.Copy(grad, slice));
        }
    }

    private void ForEachSlice(Action<Tensor, Tensor> body)
    {
        long at = 0;
        foreach (var p in _parameters)
        {
            var grad = p.Grad!;
            using var slice = _flat!.Restride(Layout.Contiguous(grad.ShapeArray, at));
            body(slice, grad);
            at += grad.Numel;
        }
    }

    /// <summary>Frees the buffer.</summary>
    public void Dispose() => _flat?.Dispose();
}
