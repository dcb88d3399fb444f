namespace RawLongLoRA.Profiling;

/// <summary>
/// The chain of module scopes open on a thread (innermost last). An autograd node keeps the chain it
/// was made in, so that its gradient rule is shown inside the same modules during backward.
/// </summary>
internal sealed record ModuleFrame(string Path, ModuleFrame? Parent)
{
    /// <summary>The chain from the outermost frame to this one.</summary>
    public List<ModuleFrame> Chain()
    {
        var chain = new List<ModuleFrame>();
        for (var f = this; f is not null; f = f.Parent)
            chain.Add(f);
        chain.Reverse();
        return chain;
    }
}
