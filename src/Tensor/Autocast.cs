namespace RawLongLoRA;

/// <summary>
/// Mixed precision as a scope, as torch.autocast: inside <c>using (Autocast.Bf16()) { ... }</c> the GEMMs
/// (linear layers, matmuls, the LM head) and attention's tile products round their operands to bfloat16 and accumulate in float32; their
/// outputs, norms, softmax, RoPE tables, the loss, gradients, master weights and optimizer state stay
/// float32. An op's backward runs at the precision its forward ran at, inside the scope or not. The
/// setting belongs to the calling thread.
/// </summary>
public static class Autocast
{
    [ThreadStatic]
    private static Precision _current;

    /// <summary>The precision GEMMs on this thread compute at now.</summary>
    public static Precision Current => _current;

    /// <summary>bf16 compute until the returned scope is disposed.</summary>
    public static IDisposable Bf16() => Scope(Precision.Bf16);

    /// <summary>Compute at <paramref name="precision"/> until the returned scope is disposed; scopes nest.</summary>
    public static IDisposable Scope(Precision precision)
    {
        var restore = new Restore(_current);
        _current = precision;
        return restore;
    }

    private sealed class Restore(Precision outer) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (!_done)
                _current = outer;
            _done = true;
        }
    }
}
