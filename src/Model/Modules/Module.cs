using RawLongLoRA.Profiling;

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
    private Module? _parent;
    private string? _name;
    private string? _fullName;

    /// <summary>Registers a parameter under <paramref name="name"/> (relative to this module).</summary>
    protected Tensor Parameter(string name, Tensor tensor)
    {
        _parameters.Add((name, tensor.DetachFromScope()));
        return tensor;
    }

    /// <summary>Puts <paramref name="tensor"/> in the place of parameter <paramref name="name"/> and frees the old one.</summary>
    protected Tensor Replace(string name, Tensor tensor)
    {
        int i = _parameters.FindIndex(p => p.Name == name);
        if (i < 0)
            throw new KeyNotFoundException($"{GetType().Name} has no parameter '{name}'");
        var old = _parameters[i].Tensor;
        _parameters[i] = (name, tensor.DetachFromScope());
        if (!ReferenceEquals(old, tensor))
            old.Dispose();
        return tensor;
    }

    /// <summary>Forgets parameter <paramref name="name"/> and frees it.</summary>
    protected void Remove(string name)
    {
        int i = _parameters.FindIndex(p => p.Name == name);
        if (i < 0)
            throw new KeyNotFoundException($"{GetType().Name} has no parameter '{name}'");
        _parameters[i].Tensor.Dispose();
        _parameters.RemoveAt(i);
    }

    /// <summary>True in training mode (dropout on), as torch's module.train(); false after <see cref="Eval"/>.</summary>
    public bool Training { get; private set; }

    /// <summary>Sets training mode on this module and every module under it.</summary>
    public void Train(bool on = true)
    {
        Training = on;
        foreach (var (_, c) in _children)
            c.Train(on);
    }

    /// <summary>
    /// Sets evaluation mode on this module and every module under it (dropout off), as torch's module.eval().
    /// </summary>
    public void Eval() => Train(false);

    /// <summary>
    /// Registers <paramref name="child"/> under <paramref name="name"/>: its parameters become this module's "name.*"
    /// and it is disposed with this module.
    /// </summary>
    protected T Child<T>(string name, T child) where T : Module
    {
        _children.Add((name, child));
        (child._parent, child._name, child._fullName) = (this, name, null);
        return child;
    }

    /// <summary>
    /// The module's full name, its parameters' key prefix ("model.layers.3.self_attn.q_proj"); a module in
    /// no tree (the root) is named by its type.
    /// </summary>
    public string FullName => _fullName ??= _name is null ? GetType().Name : _parent?._name is null ? _name : _parent.FullName + "." + _name;

    /// <summary>A profiler scope for this module's forward (nothing while the profiler is off).</summary>
    protected ProfileRange Profiled() => Profiler.IsRecording ? Profiler.Module(FullName) : default;

    /// <summary>Every parameter with its full dotted name, depth first in registration order.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> NamedParameters(string prefix = "")
    {
        foreach (var (name, t) in _parameters)
            yield return (prefix + name, t);
        foreach (var (name, child) in _children)
            foreach (var p in child.NamedParameters(prefix + name + "."))
                yield return p;
    }

    /// <summary>
    /// Every module under this one with its full dotted name ("model.layers.0.self_attn"), depth first in
    /// registration order.
    /// </summary>
    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        foreach (var (name, child) in _children)
        {
            yield return (prefix + name, child);
            foreach (var m in child.NamedModules(prefix + name + "."))
                yield return m;
        }
    }

    /// <summary>
    /// Moves every parameter under this module (adapters and gradients included) to <paramref name="device"/> in
    /// place, as torch's module.to(device), and returns this module: its forward then runs there.
    /// </summary>
    public virtual Module To(Device device)
    {
        foreach (var (_, t) in NamedParameters())
            t.MoveTo(device);
        return this;
    }

    /// <summary>The number of elements of every parameter under this module (adapters included).</summary>
    public long ParameterCount => NamedParameters().Sum(p => p.Tensor.Numel);

    /// <summary>Frees every parameter of this module and of its children.</summary>
    public virtual void Dispose()
    {
        foreach (var (_, t) in _parameters)
            t.Dispose();
        foreach (var (_, c) in _children)
            c.Dispose();
        GC.SuppressFinalize(this);
    }
}
