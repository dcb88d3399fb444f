namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Iteration plan for elementwise work over one shape and several operands with their own strides
/// (0 = broadcast): size-1 dims are dropped and neighbouring dims merged wherever every operand
/// allows, so the common cases become one long inner loop. Rows are the last merged dim; an outer
/// row index maps to one element offset per operand.
/// </summary>
internal sealed class StridedPlan
{
    private readonly int[] _outerShape;
    private readonly long[][] _outerStrides;

    public StridedPlan(ReadOnlySpan<int> shape, params long[][] strides)
    {
        var dims = new List<int>();
        var st = strides.Select(_ => new List<long>()).ToArray();
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            if (shape[d] == 1)
                continue;
            if (dims.Count > 0 && Mergeable(shape[d], strides, d, dims[0], st))
            {
                dims[0] *= shape[d];
                continue;
            }
            dims.Insert(0, shape[d]);
            for (int k = 0; k < strides.Length; k++)
                st[k].Insert(0, strides[k][d]);
        }
        if (dims.Count == 0)
        {
            dims.Add(shape.Length == 0 || Shapes.Numel(shape) > 0 ? 1 : 0);
            foreach (var s in st)
                s.Add(0);
        }
        Inner = dims[^1];
        InnerStrides = st.Select(s => s[^1]).ToArray();
        _outerShape = dims.Take(dims.Count - 1).ToArray();
        _outerStrides = st.Select(s => s.Take(s.Count - 1).ToArray()).ToArray();
        Rows = Shapes.Numel(_outerShape);
        if (Shapes.Numel(shape) == 0)
            Rows = 0;
    }

    /// <summary>Merging dim d into the inner group (current size inner, strides st[k][0]) keeps every operand linear.</summary>
    private static bool Mergeable(int size, long[][] strides, int d, int inner, List<long>[] st)
    {
        for (int k = 0; k < strides.Length; k++)
            if (strides[k][d] != st[k][0] * inner)
                return false;
        return true;
    }

    public int Inner { get; }
    public long[] InnerStrides { get; }
    public long Rows { get; }

    /// <summary>Element offsets of row <paramref name="row"/> for each operand.</summary>
    public void RowOffsets(long row, Span<long> offsets)
    {
        offsets.Clear();
        for (int d = _outerShape.Length - 1; d >= 0 && row > 0; d--)
        {
            long i = row % _outerShape[d];
            row /= _outerShape[d];
            for (int k = 0; k < offsets.Length; k++)
                offsets[k] += i * _outerStrides[k][d];
        }
    }

    /// <summary>True when no two rows write the same element of operand k (its outer strides are all non-zero).</summary>
    public bool RowsDistinct(int k) => _outerStrides[k].All(s => s != 0);

    /// <summary>Strides of <paramref name="t"/> broadcast to <paramref name="shape"/> (right-aligned, 0 where broadcast).</summary>
    public static long[] BroadcastStrides(Tensor t, ReadOnlySpan<int> shape, string op)
    {
        int lead = shape.Length - t.Rank;
        if (lead < 0)
            throw Check.Fail(op, $"operand of shape {Shapes.Format(t.Shape)} has more dims than the result {Shapes.Format(shape)}", t);
        var st = new long[shape.Length];
        for (int i = 0; i < t.Rank; i++)
        {
            int size = t.Shape[i];
            if (size == shape[lead + i])
                st[lead + i] = size == 1 ? 0 : t.Strides[i];
            else if (size == 1)
                st[lead + i] = 0;
            else
                throw Check.Fail(op, $"operand of shape {Shapes.Format(t.Shape)} does not broadcast to {Shapes.Format(shape)}", t);
        }
        return st;
    }

    /// <summary>
    /// Runs body(offsets, n) over every row: n elements from the given offsets, one step of
    /// InnerStrides apart. In parallel when asked and the work is large; with splitInner, long rows
    /// are also cut into pieces (a fully contiguous tensor is one row), which is only safe where no
    /// two elements of a row write the same place.
    /// </summary>
    public void ForEachRow(bool parallel, bool splitInner, Action<long[], int> body)
    {
        int k = InnerStrides.Length;
        long work = Rows * (long)Inner;
        const long minWork = 32768;
        if (!parallel || CpuThreads.Count == 1 || work < 2 * minWork)
        {
            var offs = new long[k];
            for (long r = 0; r < Rows; r++)
            {
                RowOffsets(r, offs);
                body(offs, Inner);
            }
            return;
        }
        long wanted = CpuThreads.Count * 4L;
        int pieces = !splitInner || Rows >= wanted ? 1 : (int)Math.Clamp((wanted + Rows - 1) / Rows, 1, Math.Max(1, Inner / 4096));
        int pieceLen = (Inner + pieces - 1) / pieces;
        long items = Rows * pieces;
        CpuThreads.ForRange(items, Math.Max(1, minWork / pieceLen), (lo, hi) =>
        {
            var offs = new long[k];
            for (long item = lo; item < hi; item++)
            {
                long row = item / pieces;
                int start = (int)(item % pieces) * pieceLen;
                RowOffsets(row, offs);
                for (int j = 0; j < k; j++)
                    offs[j] += start * InnerStrides[j];
                body(offs, Math.Min(pieceLen, Inner - start));
            }
        });
    }
}
