using System.Collections.Concurrent;

namespace RawLongLoRA.Profiling;

/// <summary>
/// One backward pass as the profiler sees it: an "autograd.backward" scope in which each node's rule is
/// a "&lt;op&gt;.backward" event inside the module scopes its forward op ran in, reopened for it. Frames
/// shared by consecutive nodes stay open, so a layer's backward reads as one block. Time in the pass
/// but outside every rule is the engine's own bookkeeping.
/// </summary>
public sealed class BackwardPass : IDisposable
{
    private static readonly ConcurrentDictionary<string, string> Names = new();

    private readonly ProfileRange _pass;
    // Frames open when the pass began (a checkpoint's recompute runs a pass inside a module's backward):
    // nodes made inside them already sit within them and reopen only what lies deeper.
    private readonly HashSet<ModuleFrame> _outer = new(ReferenceEqualityComparer.Instance);
    private readonly List<(string Path, ProfileRange Range)> _reopened = [];

    internal BackwardPass()
    {
        for (var f = Profiler.CurrentFrame; f is not null; f = f.Parent)
            _outer.Add(f);
        var e = Profiler.Open("autograd.backward", ProfileKind.Scope);
        if (e is not null)
            Profiler.SetPhase(e, ProfilePhase.Backward);
        _pass = new ProfileRange(e);
    }

    /// <summary>Opens the scopes of the node's module and the event of its rule; dispose the range when the rule returns.</summary>
    public ProfileRange Enter(Node node)
    {
        var target = node.ProfileFrame?.Chain().Where(f => !_outer.Contains(f)).Select(f => f.Path).ToList() ?? [];
        int common = 0;
        while (common < _reopened.Count && common < target.Count && _reopened[common].Path == target[common])
            common++;
        CloseFrom(common);
        foreach (string path in target.Skip(common))
        {
            var e = Profiler.Open(path, ProfileKind.Module);
            if (e is not null)
                Profiler.PushFrame(e, path);
            _reopened.Add((path, new ProfileRange(e)));
        }
        var rule = Profiler.Open(Names.GetOrAdd(node.Name, n => n + ".backward"), ProfileKind.Backward);
        if (rule is not null)
        {
            rule.Module = node.ProfileFrame?.Path;
            var inputs = node.Inputs;
            rule.Shapes = string.Join(", ", inputs.Where(x => x is { IsDisposed: false }).Select(x => RawLongLoRA.Shapes.Format(x!.Shape)));
            rule.DType = inputs.FirstOrDefault(x => x is not null)?.DType;
        }
        return new ProfileRange(rule);
    }

    private void CloseFrom(int keep)
    {
        for (int i = _reopened.Count - 1; i >= keep; i--)
        {
            _reopened[i].Range.Dispose();
            _reopened.RemoveAt(i);
        }
    }

    /// <summary>Closes the reopened scopes and the pass.</summary>
    public void Dispose()
    {
        CloseFrom(0);
        _pass.Dispose();
    }
}
