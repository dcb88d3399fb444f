namespace RawLongLoRA;

// Host access and raw in-place writes. These do not record autograd history: they are for
// initialisation, optimizers and reading results.
public sealed partial class Tensor
{
    /// <summary>The elements in row-major order as float32, from any dtype, layout or device.</summary>
    public float[] ToFloatArray()
    {
        using var host = ToHostContiguous(DType.F32);
        return host.AsSpan<float>().ToArray();
    }

    /// <summary>The elements in row-major order; T must match the dtype's size (ushort for BF16/F16).</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        using var host = ToHostContiguous(DType);
        return host.AsSpan<T>().ToArray();
    }

    /// <summary>The single element of a one-element tensor, as float32.</summary>
    public float Item()
    {
        if (Numel != 1)
            throw new InvalidOperationException($"item: tensor {Describe()} has {Numel} elements, not 1");
        return ToFloatArray()[0];
    }

    /// <summary>The data of a contiguous host tensor, without a copy.</summary>
    public unsafe Span<T> AsSpan<T>() where T : unmanaged
    {
        if (!Device.IsCpu || !IsContiguous)
            throw new InvalidOperationException($"as_span: tensor {Describe()} must be contiguous and on the cpu");
        if (sizeof(T) != DType.Size())
            throw new InvalidOperationException($"as_span: element type {typeof(T).Name} does not match {DType.TorchName()}");
        return new Span<T>((void*)DataPointer, checked((int)Numel));
    }

    /// <summary>
    /// Copies src (same shape, any dtype, layout or device) into this tensor's elements: an in-place write, counted
    /// in <see cref="Storage.Version"/>.
    /// </summary>
    public Tensor CopyFrom(Tensor src)
    {
        if (!Shapes.Equal(Shape, src.Shape))
            throw new ArgumentException($"copy: shapes differ, destination {Describe()} and source {src.Describe()}");
        (Device.IsCpu ? src.Device : Device).Backend.Copy(this, src);
        Storage.BumpVersion();
        return this;
    }

    /// <summary>
    /// Moves this leaf's elements (and its gradient's) to <paramref name="device"/> in place, as torch's
    /// <c>param.data = param.data.to(device)</c>: the handle, and whoever holds it (a module, an optimizer), stays; its
    /// storage becomes a contiguous copy there. Views made before keep the old storage.
    /// </summary>
    public void MoveTo(Device device)
    {
        ThrowIfDisposed();
        if (!IsLeaf)
            throw new InvalidOperationException($"move_to: only leaves (parameters, inputs) move in place, not {Describe()} made by {GradFn!.Name}");
        Grad?.MoveTo(device);
        if (Device == device)
            return;
        var copy = Empty(ShapeArray, DType, device).DetachFromScope();
        copy.CopyFrom(this);
        var old = _storage;
        (_storage, Layout) = (copy._storage, copy.Layout);
        _storage.Retain();
        copy.Dispose();
        old.Release();
    }

    /// <summary>
    /// Sets every element to <paramref name="value"/> in place (no autograd record; counted in <see cref="Storage.Version"/>)
    /// and returns this tensor.
    /// </summary>
    public Tensor Fill(double value)
    {
        Device.Backend.Fill(this, value);
        Storage.BumpVersion();
        return this;
    }

    /// <summary>Sets every element to 0 in place (no autograd record) and returns this tensor.</summary>
    public Tensor Zero() => Fill(0);

    private Tensor ToHostContiguous(DType dtype)
    {
        ThrowIfDisposed();
        var host = Empty(ShapeArray, dtype, Device.Cpu).DetachFromScope();
        host.CopyFrom(this);
        return host;
    }
}
