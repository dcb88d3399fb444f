namespace RawLongLoRA.Model;

/// <summary>
/// A node of the model tree: named parameters and named children, so that every parameter is
/// reachable under its Hugging Face key ("model.layers.0.self_attn.q_proj.weight"). Parameters are
/// leaves owned by their module, outside any dispose scope; disposing the module frees them.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<(string Name, Tensor Tensor)> _parameters = [];
    private readonly List<(string Name, Module Child)> _children = [];

    /// <summary>Registers a parameter under <paramref name="name"/> (relative to this module).</summary>
    protected Tensor Parameter(string name, Tensor tensor)
    {
        _parameters.Add((name, tensor.DetachFromScope()));
        return tensor;
    }

    protected T Child<T>(string name, T child) where T : Module
    {
        _children.Add((name, child));
        return child;
    }

    /// <summary>Every parameter with its full dotted name, depth first in registration order.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> NamedParameters(string prefix = "")
    {
        foreach (var (name, t) in _parameters)
            yield return (prefix + name, t);
        foreach (var (name, child) in _children)
            foreach (var p in child.NamedParameters(prefix + name + "."))
                yield return p;
    }

    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        foreach (var (name, child) in _children)
        {
            yield return (prefix + name, child);
            foreach (var m in child.NamedModules(prefix + name + "."))
                yield return m;
        }
    }

    public long ParameterCount => NamedParameters().Sum(p => p.Tensor.Numel);

    public virtual void Dispose()
    {
        foreach (var (_, t) in _parameters)
            t.Dispose();
        foreach (var (_, c) in _children)
            c.Dispose();
        GC.SuppressFinalize(this);
    }
}
