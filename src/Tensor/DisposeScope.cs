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

    /// <summary>
    /// Opens a scope and makes it this thread's innermost one: tensors created from now on, on this thread, belong to
    /// it until it is disposed.
    /// </summary>
    public DisposeScope()
    {
        Outer = _current;
        _current = this;
    }

    /// <summary>
    /// This thread's innermost open scope, or null when none is open (tensors then belong to whoever made them).
    /// </summary>
    public static DisposeScope? Current => _current;

    /// <summary>
    /// The scope that was innermost when this one opened: where <see cref="Tensor.MoveToOuterScope"/> moves a tensor.
    /// </summary>
    public DisposeScope? Outer { get; }

    /// <summary>Tensors this scope will dispose when it ends.</summary>
    public int Count => _owned.Count(t => t.Scope == this && !t.IsDisposed);

    internal void Add(Tensor t)
    {
        if (_ended)
            throw new InvalidOperationException("dispose scope has already ended");
        _owned.Add(t);
    }

    /// <summary>
    /// Ends the scope: disposes every tensor it still owns and makes <see cref="Outer"/> the innermost again. Throws
    /// if an inner scope is still open.
    /// </summary>
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
