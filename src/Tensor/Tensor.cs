namespace RawLongLoRA;

/// <summary>
/// An n-dimensional array: a refcounted <see cref="Storage"/>, a <see cref="Layout"/> over it and a
/// <see cref="DType"/>; for autograd, <see cref="RequiresGrad"/>, <see cref="Grad"/> and the
/// <see cref="GradFn"/> node that made it. Views share storage. Dispose releases this handle's
/// reference; the memory goes when the last handle does. Ops live in RawLongLoRA.Autograd as
/// extension members of this type.
/// </summary>
public sealed partial class Tensor : IDisposable
{
    private readonly Storage _storage;
    private bool _requiresGrad;

    public Tensor(Storage storage, Layout layout, DType dtype)
    {
        long need = layout.Extent * dtype.Size();
        if (need > storage.ByteLength)
            throw new ArgumentException($"tensor: layout {layout} of {dtype.TorchName()} needs {need} bytes but storage has {storage.ByteLength}");
        storage.Retain();
        _storage = storage;
        Layout = layout;
        DType = dtype;
        Scope = DisposeScope.Current;
        Scope?.Add(this);
        if (Profiling.Profiler.IsRecording)
            Profiling.Profiler.OnViewed(this);
    }

    public Layout Layout { get; }
    public DType DType { get; }
    public Device Device => _storage.Device;
    public ReadOnlySpan<int> Shape => Layout.Shape;
    public int[] ShapeArray => Layout.ShapeArray;
    public ReadOnlySpan<long> Strides => Layout.Strides;
    public int Rank => Layout.Rank;
    public long Numel => Layout.Numel;
    public bool IsContiguous => Layout.IsContiguous;

    /// <summary>A name for messages: parameters carry their Hugging Face key.</summary>
    public string? Name { get; set; }

    public int Size(int dim) => Layout.Shape[Layout.NormalizeDim(dim, "size")];

    public Storage Storage
    {
        get
        {
            ThrowIfDisposed();
            return _storage;
        }
    }

    /// <summary>Address of element 0 of this view (host or device).</summary>
    public nint DataPointer => Storage.Handle + (nint)(Layout.Offset * DType.Size());

    public bool IsDisposed { get; private set; }

    internal DisposeScope? Scope { get; set; }

    // ---- autograd state (the ops and the engine are in RawLongLoRA.Autograd)

    /// <summary>The node that made this tensor; null for leaves (inputs, parameters).</summary>
    public Node? GradFn { get; private set; }

    public bool IsLeaf => GradFn is null;

    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (!IsLeaf && !value)
                throw new InvalidOperationException($"requires_grad: cannot turn off on a non-leaf tensor made by {GradFn!.Name}; use Detach()");
            if (value && !DType.IsFloat())
                throw new InvalidOperationException($"requires_grad: only floating tensors can require gradients, not {DType.TorchName()}");
            _requiresGrad = value;
        }
    }

    /// <summary>Accumulated gradient of a leaf (float32, same shape), owned by this tensor.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>Marks this tensor as the output of <paramref name="node"/> (called by autograd ops).</summary>
    public Tensor SetGradFn(Node node)
    {
        GradFn = node;
        _requiresGrad = true;
        return this;
    }

    /// <summary>A new handle on the same storage with another layout (no autograd record).</summary>
    public Tensor Restride(Layout layout) => new(Storage, layout, DType);

    /// <summary>Moves ownership to the enclosing dispose scope (or to the caller if there is none).</summary>
    public Tensor MoveToOuterScope()
    {
        if (Scope is { } s)
        {
            Scope = s.Outer;
            Scope?.Add(this);
        }
        return this;
    }

    /// <summary>No scope will dispose this tensor; the caller owns it.</summary>
    public Tensor DetachFromScope()
    {
        Scope = null;
        return this;
    }

    public void ThrowIfDisposed()
    {
        if (IsDisposed)
            throw new ObjectDisposedException(nameof(Tensor), $"tensor {Describe()} was used after it was disposed");
    }

    public void Dispose()
    {
        if (IsDisposed)
            return;
        IsDisposed = true;
        Scope = null;
        GradFn?.ReleaseOwned();
        GradFn = null;
        _storage.Release();
    }

    /// <summary>"[2, 3] float32 on cpu" (and the name, if any), for error messages.</summary>
    public string Describe() => (Name is null ? "" : Name + " ") + $"{Shapes.Format(Layout.Shape)} {DType.TorchName()} on {_storage.Device}";
}
