namespace RawLongLoRA;

/// <summary>
/// Argument checks shared by every backend and op, so that a bad call fails the same way everywhere:
/// an exception naming the op and describing each tensor involved (shape, dtype, device).
/// </summary>
public static class Check
{
    /// <summary>
    /// The exception a failed check throws (an <see cref="ArgumentException"/>): "op: what (tensors: ...)" with each
    /// tensor described. Returned, not thrown, so the caller writes <c>throw Check.Fail(...)</c>.
    /// </summary>
    public static Exception Fail(string op, string what, params Tensor?[] tensors)
    {
        var parts = tensors.Where(t => t is not null).Select(t => t!.IsDisposed ? "<disposed>" : t!.Describe());
        return new ArgumentException($"{op}: {what} (tensors: {string.Join("; ", parts)})");
    }

    /// <summary>
    /// Throws <see cref="ObjectDisposedException"/> if any of <paramref name="tensors"/> (nulls skipped) was
    /// disposed.
    /// </summary>
    public static void Alive(string op, params Tensor?[] tensors)
    {
        foreach (var t in tensors)
            if (t is { IsDisposed: true })
                throw new ObjectDisposedException(nameof(Tensor), $"{op}: tensor {t.Describe()} was used after it was disposed");
    }

    /// <summary>Throws unless <paramref name="a"/> and <paramref name="b"/> have the same shape.</summary>
    public static void SameShape(string op, Tensor a, Tensor b)
    {
        if (!Shapes.Equal(a.Shape, b.Shape))
            throw Fail(op, $"shapes must match, got {Shapes.Format(a.Shape)} and {Shapes.Format(b.Shape)}", a, b);
    }

    /// <summary>The broadcast shape of a and b; throws naming the op, both shapes and dtypes where they do not broadcast.</summary>
    public static int[] Broadcast(string op, Tensor a, Tensor b)
    {
        int r = Math.Max(a.Rank, b.Rank);
        for (int i = 1; i <= r; i++)
        {
            int da = i <= a.Rank ? a.Shape[^i] : 1, db = i <= b.Rank ? b.Shape[^i] : 1;
            if (da != db && da != 1 && db != 1)
                throw Fail(op, $"shapes {Shapes.Format(a.Shape)} and {Shapes.Format(b.Shape)} do not broadcast (dim {r - i}: {da} vs {db})", a, b);
        }
        return Shapes.Broadcast(a.Shape, b.Shape, op);
    }

    /// <summary>
    /// Throws unless <paramref name="t"/> has exactly the shape <paramref name="expected"/>; <paramref name="role"/>
    /// names it in the message ("weight", "dy").
    /// </summary>
    public static void Shape(string op, Tensor t, string role, params int[] expected)
    {
        if (!Shapes.Equal(t.Shape, expected))
            throw Fail(op, $"{role} must have shape {Shapes.Format(expected)}, got {Shapes.Format(t.Shape)}", t);
    }

    /// <summary>Throws unless <paramref name="t"/> has <paramref name="rank"/> dims.</summary>
    public static void Rank(string op, Tensor t, string role, int rank)
    {
        if (t.Rank != rank)
            throw Fail(op, $"{role} must have rank {rank}, got shape {Shapes.Format(t.Shape)}", t);
    }

    /// <summary>Throws unless <paramref name="t"/>'s dtype is one of <paramref name="allowed"/>.</summary>
    public static void DTypeIs(string op, Tensor t, string role, params DType[] allowed)
    {
        if (Array.IndexOf(allowed, t.DType) < 0)
            throw Fail(op, $"{role} must be {string.Join(" or ", allowed.Select(d => d.TorchName()))}, got {t.DType.TorchName()}", t);
    }

    /// <summary>Throws unless <paramref name="t"/> is a floating dtype (F32, BF16 or F16).</summary>
    public static void Float(string op, Tensor t, string role) => DTypeIs(op, t, role, DType.F32, DType.BF16, DType.F16);

    /// <summary>Throws unless <paramref name="t"/> is float32.</summary>
    public static void F32(string op, Tensor t, string role) => DTypeIs(op, t, role, DType.F32);

    /// <summary>Throws unless <paramref name="t"/> is an index tensor (I32 or I64).</summary>
    public static void Index(string op, Tensor t, string role) => DTypeIs(op, t, role, DType.I32, DType.I64);

    /// <summary>Rows (the last dim) must be contiguous for row kernels; the outer dims must flatten too.</summary>
    public static void Contiguous(string op, Tensor t, string role)
    {
        if (!t.IsContiguous)
            throw Fail(op, $"{role} must be contiguous, got strides ({string.Join(", ", t.Strides.ToArray())})", t);
    }

    /// <summary>Throws unless every non-null tensor is on the device of the first.</summary>
    public static void SameDevice(string op, params Tensor?[] tensors)
    {
        var first = tensors.FirstOrDefault(t => t is not null);
        foreach (var t in tensors)
            if (t is not null && t.Device != first!.Device)
                throw Fail(op, $"all tensors must be on one device, got {first.Device} and {t.Device}", tensors);
    }
}
