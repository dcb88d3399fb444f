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
    private Storage _storage;
    private bool _requiresGrad;

    /// <summary>
    /// A handle on <paramref name="storage"/> viewed through <paramref name="layout"/> as <paramref name="dtype"/>;
    /// it retains the storage (so the caller may release its own reference) and joins the current
    /// <see cref="DisposeScope"/>. Throws when the layout reaches past the storage. Most code makes tensors with the
    /// factories (<see cref="Empty"/>, <see cref="FromArray(float[], int[], DType, Device?, bool)"/>, …) instead.
    /// </summary>
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

    /// <summary>Shape, strides and offset of this view.</summary>
    public Layout Layout { get; private set; }
    /// <summary>The element type.</summary>
    public DType DType { get; }
    /// <summary>The device the storage is on.</summary>
    public Device Device => _storage.Device;
    /// <summary>Size of each dim.</summary>
    public ReadOnlySpan<int> Shape => Layout.Shape;
    /// <summary>A copy of <see cref="Shape"/> as an array.</summary>
    public int[] ShapeArray => Layout.ShapeArray;
    /// <summary>Elements to step in storage for +1 along each dim (0 for a broadcast dim).</summary>
    public ReadOnlySpan<long> Strides => Layout.Strides;
    /// <summary>Number of dims (0 for a scalar).</summary>
    public int Rank => Layout.Rank;
    /// <summary>Number of elements.</summary>
    public long Numel => Layout.Numel;
    /// <summary>True when the elements are row-major without gaps, so the data can be read as one span.</summary>
    public bool IsContiguous => Layout.IsContiguous;

    /// <summary>A name for messages: parameters carry their Hugging Face key.</summary>
    public string? Name { get; set; }

    /// <summary>The size of dim <paramref name="dim"/> (negative counts from the end).</summary>
    public int Size(int dim) => Layout.Shape[Layout.NormalizeDim(dim, "size")];

    /// <summary>
    /// The memory this tensor views, shared with every view of it; throws once this handle is disposed.
    /// </summary>
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

    /// <summary>True once <see cref="Dispose"/> was called on this handle.</summary>
    public bool IsDisposed { get; private set; }

    internal DisposeScope? Scope { get; set; }

    // ---- autograd state (the ops and the engine are in RawLongLoRA.Autograd)

    /// <summary>The node that made this tensor; null for leaves (inputs, parameters).</summary>
    public Node? GradFn { get; private set; }

    /// <summary>
    /// True for tensors no op made (inputs, parameters): the ones whose <see cref="Grad"/> backward fills.
    /// </summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>
    /// Whether autograd records ops on this tensor and computes its gradient. Set it on leaves (parameters); ops set
    /// it on their outputs. Only floating tensors may want gradients, and a non-leaf cannot be turned off (use
    /// Detach).
    /// </summary>
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
        node.KeepVersion(this);
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

    /// <summary>Throws <see cref="ObjectDisposedException"/> naming the tensor if this handle was disposed.</summary>
    public void ThrowIfDisposed()
    {
        if (IsDisposed)
            throw new ObjectDisposedException(nameof(Tensor), $"tensor {Describe()} was used after it was disposed");
    }

    /// <summary>
    /// Releases this handle: its reference to the storage, its gradient-function record and whatever that record
    /// owns. The memory goes with the last handle; <see cref="Grad"/> is not disposed (its owner — an optimizer's
    /// ZeroGrad — does that). Safe to call twice.
    /// </summary>
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
