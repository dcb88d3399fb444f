namespace RawLongLoRA;

/// <summary>
/// Disposes, when it ends, every tensor created on this thread while it was the innermost scope,
/// except those moved out (<see cref="Tensor.MoveToOuterScope"/>) or detached
/// (<see cref="Tensor.DetachFromScope"/>). Scopes nest and must end in reverse order.
/// </summary>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic]
    private static DisposeScope? _current;

    private readonly List<Tensor> _owned = [];
    private bool _ended;

    public DisposeScope()
    {
        Outer = _current;
        _current = this;
    }

    public static DisposeScope? Current => _current;

    public DisposeScope? Outer { get; }

    /// <summary>Tensors this scope will dispose when it ends.</summary>
    public int Count => _owned.Count(t => t.Scope == this && !t.IsDisposed);

    internal void Add(Tensor t)
    {
        if (_ended)
            throw new InvalidOperationException("dispose scope has already ended");
        _owned.Add(t);
    }

    public void Dispose()
    {
        if (_ended)
            return;
        if (_current != this)
            throw new InvalidOperationException("dispose scopes must end innermost first");
        _ended = true;
        _current = Outer;
        foreach (var t in _owned)
            if (t.Scope == this)
                t.Dispose();
        _owned.Clear();
    }
}
