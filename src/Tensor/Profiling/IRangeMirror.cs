namespace RawLongLoRA.Profiling;

/// <summary>Somewhere else the profiler's ranges are opened and closed as they are (NVTX on a GPU): see <see cref="Profiler.Mirror"/>.</summary>
internal interface IRangeMirror
{
    /// <summary>A range named <paramref name="name"/> opens on the calling thread.</summary>
    void Push(string name);

    /// <summary>The calling thread's innermost range closes.</summary>
    void Pop();
}
