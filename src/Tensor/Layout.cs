namespace RawLongLoRA;

/// <summary>
/// How a tensor's elements sit in its storage: shape, strides (in elements, 0 for broadcast dims)
/// and an offset. Every view (transpose, narrow, expand, reshape of contiguous data) is a new
/// Layout over the same storage; nothing here touches data.
/// </summary>
public sealed class Layout
{
    private readonly int[] _shape;
    private readonly long[] _strides;

    /// <summary>
    /// A layout from explicit <paramref name="shape"/>, <paramref name="strides"/> (elements; 0 broadcasts) and
    /// <paramref name="offset"/> (elements from the storage's start). The arrays are kept, not copied.
    /// </summary>
    public Layout(int[] shape, long[] strides, long offset)
    {
        if (shape.Length != strides.Length)
            throw new ArgumentException($"layout: shape {Shapes.Format(shape)} has rank {shape.Length} but {strides.Length} strides");
        foreach (int d in shape)
            if (d < 0)
                throw new ArgumentException($"layout: negative dimension in shape {Shapes.Format(shape)}");
        if (offset < 0)
            throw new ArgumentException($"layout: negative offset {offset}");
        _shape = shape;
        _strides = strides;
        Offset = offset;
        Numel = Shapes.Numel(shape);
    }

    /// <summary>
    /// The row-major layout of <paramref name="shape"/> with no gaps, starting at element <paramref name="offset"/>.
    /// </summary>
    public static Layout Contiguous(int[] shape, long offset = 0) => new(shape, Shapes.ContiguousStrides(shape), offset);

    /// <summary>Size of each dim.</summary>
    public ReadOnlySpan<int> Shape => _shape;
    /// <summary>Elements to step in storage for +1 along each dim; 0 for a broadcast dim.</summary>
    public ReadOnlySpan<long> Strides => _strides;
    /// <summary>A copy of <see cref="Shape"/> the caller may change.</summary>
    public int[] ShapeArray => (int[])_shape.Clone();
    /// <summary>A copy of <see cref="Strides"/> the caller may change.</summary>
    public long[] StridesArray => (long[])_strides.Clone();
    /// <summary>Where element [0, 0, …] sits, in elements from the storage's start.</summary>
    public long Offset { get; }
    /// <summary>Number of dims (0 for a scalar).</summary>
    public int Rank => _shape.Length;
    /// <summary>Number of elements: the product of the shape (1 for a scalar).</summary>
    public long Numel { get; }

    /// <summary>Row-major with no gaps (size-1 dimensions may have any stride).</summary>
    public bool IsContiguous
    {
        get
        {
            long expect = 1;
            for (int i = _shape.Length - 1; i >= 0; i--)
            {
                if (_shape[i] == 1)
                    continue;
                if (_strides[i] != expect)
                    return false;
                expect *= _shape[i];
            }
            return true;
        }
    }

    /// <summary>Index of the last element reachable + 1, relative to storage start (for bounds checks).</summary>
    public long Extent
    {
        get
        {
            if (Numel == 0)
                return Offset;
            long hi = Offset;
            for (int i = 0; i < _shape.Length; i++)
                hi += (long)(_shape[i] - 1) * _strides[i];
            return hi + 1;
        }
    }

    /// <paramref name="dim"/> as an index in [0, Rank), counting from the end when negative (-1 is the last dim);
    /// throws naming <paramref name="op"/> when out of range.
    public int NormalizeDim(int dim, string op)
    {
        int d = dim < 0 ? dim + Rank : dim;
        if (d < 0 || d >= Rank)
            throw new ArgumentOutOfRangeException(nameof(dim), $"{op}: dim {dim} is out of range for shape {Shapes.Format(_shape)}");
        return d;
    }

    /// <summary>
    /// The same elements with dims <paramref name="a"/> and <paramref name="b"/> swapped (their sizes and strides).
    /// </summary>
    public Layout Transpose(int a, int b)
    {
        a = NormalizeDim(a, "transpose");
        b = NormalizeDim(b, "transpose");
        var s = ShapeArray;
        var st = StridesArray;
        (s[a], s[b]) = (s[b], s[a]);
        (st[a], st[b]) = (st[b], st[a]);
        return new Layout(s, st, Offset);
    }

    /// <summary>
    /// The same elements with the dims reordered: dim i of the result is dim <paramref name="dims"/>[i] of this one.
    /// </summary>
    public Layout Permute(ReadOnlySpan<int> dims)
    {
        if (dims.Length != Rank)
            throw new ArgumentException($"permute: {dims.Length} dims given for shape {Shapes.Format(_shape)}");
        var seen = new bool[Rank];
        var s = new int[Rank];
        var st = new long[Rank];
        for (int i = 0; i < Rank; i++)
        {
            int d = NormalizeDim(dims[i], "permute");
            if (seen[d])
                throw new ArgumentException($"permute: dim {d} repeated in [{string.Join(", ", dims.ToArray())}]");
            seen[d] = true;
            s[i] = _shape[d];
            st[i] = _strides[d];
        }
        return new Layout(s, st, Offset);
    }

    /// <summary>
    /// Elements [<paramref name="start"/>, start + <paramref name="length"/>) of dim <paramref name="dim"/>, the
    /// other dims whole.
    /// </summary>
    public Layout Narrow(int dim, int start, int length)
    {
        dim = NormalizeDim(dim, "narrow");
        if (start < 0 || length < 0 || (long)start + length > _shape[dim])
            throw new ArgumentOutOfRangeException(nameof(start), $"narrow: range [{start}, {(long)start + length}) is outside dim {dim} of size {_shape[dim]} in shape {Shapes.Format(_shape)}");
        var s = ShapeArray;
        s[dim] = length;
        return new Layout(s, _strides.ToArray(), Offset + (length == 0 ? 0 : start * _strides[dim]));
    }

    /// <summary>Broadcasts size-1 dims (and new leading dims) to <paramref name="shape"/> with stride 0.</summary>
    public Layout Expand(ReadOnlySpan<int> shape)
    {
        if (shape.Length < Rank)
            throw new ArgumentException($"expand: cannot expand shape {Shapes.Format(_shape)} to fewer dims {Shapes.Format(shape)}");
        int lead = shape.Length - Rank;
        var st = new long[shape.Length];
        var s = shape.ToArray();
        for (int i = 0; i < shape.Length; i++)
        {
            if (i < lead)
            {
                st[i] = 0;
                continue;
            }
            int src = _shape[i - lead];
            if (s[i] == -1)
                s[i] = src;
            if (src == s[i])
                st[i] = _strides[i - lead];
            else if (src == 1)
                st[i] = 0;
            else
                throw new ArgumentException($"expand: dim {i} of size {src} cannot become {s[i]} (shape {Shapes.Format(_shape)} to {Shapes.Format(shape)})");
        }
        return new Layout(s, st, Offset);
    }

    /// <summary>
    /// A view with a new shape over the same elements, or null where the strides do not allow one
    /// (then the caller copies). Old dims are grouped into chunks whose strides chain; each chunk
    /// must be covered exactly by a run of new dims, which then take strides inside that chunk.
    /// </summary>
    public Layout? TryReshape(ReadOnlySpan<int> newShape)
    {
        var ns = Shapes.InferShape(newShape, Numel, "reshape", _shape);
        if (IsContiguous || Numel == 0)
            return Contiguous(ns, Offset);
        var st = new long[ns.Length];
        int nd = ns.Length - 1;
        long chunkStride = _strides[^1];
        long oldCount = 1, newCount = 1;
        for (int od = Rank - 1; od >= 0; od--)
        {
            oldCount *= _shape[od];
            bool chunkEnds = od == 0 || (_shape[od - 1] != 1 && _strides[od - 1] != oldCount * chunkStride);
            if (!chunkEnds)
                continue;
            while (nd >= 0 && (newCount < oldCount || ns[nd] == 1))
            {
                st[nd] = newCount * chunkStride;
                newCount *= ns[nd];
                nd--;
            }
            if (newCount != oldCount)
                return null;
            if (od > 0)
            {
                chunkStride = _strides[od - 1];
                oldCount = 1;
                newCount = 1;
            }
        }
        return nd == -1 ? new Layout(ns, st, Offset) : null;
    }

    /// <summary>
    /// A size-1 dim inserted at <paramref name="dim"/> (negative counts from the end of the result).
    /// </summary>
    public Layout Unsqueeze(int dim)
    {
        int d = dim < 0 ? dim + Rank + 1 : dim;
        if (d < 0 || d > Rank)
            throw new ArgumentOutOfRangeException(nameof(dim), $"unsqueeze: dim {dim} out of range for shape {Shapes.Format(_shape)}");
        var s = new List<int>(_shape);
        var st = new List<long>(_strides);
        long inner = d < Rank ? _strides[d] * _shape[d] : 1;
        s.Insert(d, 1);
        st.Insert(d, inner);
        return new Layout([.. s], [.. st], Offset);
    }

    /// <summary>
    /// Dim <paramref name="dim"/> removed if its size is 1; otherwise this layout unchanged, as torch.squeeze.
    /// </summary>
    public Layout Squeeze(int dim)
    {
        int d = NormalizeDim(dim, "squeeze");
        if (_shape[d] != 1)
            return this;
        var s = new List<int>(_shape);
        var st = new List<long>(_strides);
        s.RemoveAt(d);
        st.RemoveAt(d);
        return new Layout([.. s], [.. st], Offset);
    }

    /// <summary>"shape=[..] strides=(..) offset=N", for messages.</summary>
    public override string ToString() => $"shape={Shapes.Format(_shape)} strides=({string.Join(", ", _strides)}) offset={Offset}";
}
