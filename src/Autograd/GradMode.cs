namespace RawLongLoRA;

/// <summary>
/// Whether ops record history on this thread. Off inside <see cref="Autograd.NoGrad"/> and while a
/// checkpointed segment runs its first forward; in that second case ops also note that they saw a
/// tensor wanting a gradient, so the segment knows its output needs one.
/// </summary>
internal static class GradMode
{
    [ThreadStatic]
    private static int _disabled;

    [ThreadStatic]
    private static int _probing;

    [ThreadStatic]
    private static bool _sawRequiresGrad;

    public static bool Enabled => _disabled == 0;

    public static IDisposable Disable() => new Toggle(() => _disabled++, () => _disabled--);

    /// <summary>Disables recording and starts noting whether any op's input wanted a gradient.</summary>
    public static IDisposable Probe(out Func<bool> sawRequiresGrad)
    {
        bool outer = _sawRequiresGrad;
        _sawRequiresGrad = false;
        bool saw = false;
        sawRequiresGrad = () => saw;
        return new Toggle(() => { _disabled++; _probing++; }, () =>
        {
            _disabled--;
            _probing--;
            saw = _sawRequiresGrad;
            _sawRequiresGrad = outer || saw;
        });
    }

    /// <summary>Re-enables recording inside a disabled region (a checkpoint's recompute during backward).</summary>
    public static IDisposable Enable()
    {
        int saved = 0;
        return new Toggle(() => { saved = _disabled; _disabled = 0; }, () => _disabled = saved);
    }

    public static void Note(bool requiresGrad)
    {
        if (_probing > 0 && requiresGrad)
            _sawRequiresGrad = true;
    }

    private sealed class Toggle : IDisposable
    {
        private Action? _exit;

        public Toggle(Action enter, Action exit)
        {
            enter();
            _exit = exit;
        }

        public void Dispose()
        {
            _exit?.Invoke();
            _exit = null;
        }
    }
}
