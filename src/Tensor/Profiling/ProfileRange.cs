namespace RawLongLoRA.Profiling;

/// <summary>
/// An open <see cref="ProfileEvent"/>; disposing it closes the event. The default value (what every
/// <see cref="Profiler"/> call returns while nothing records) does nothing, and being a struct it costs
/// no allocation in a <c>using</c>.
/// </summary>
public readonly struct ProfileRange : IDisposable
{
    private readonly ProfileEvent? _event;

    internal ProfileRange(ProfileEvent? e) => _event = e;

    /// <summary>The event this range closes; null for the default range.</summary>
    internal ProfileEvent? Event => _event;

    /// <summary>Closes the event (a no-op for the default range).</summary>
    public void Dispose()
    {
        if (_event is not null)
            Profiler.Close(_event);
    }
}
