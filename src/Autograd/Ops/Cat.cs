using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>Concatenation along a dim; each input's gradient is its window of g.</summary>
public static class Cat
{
    /// <summary>
    /// The <paramref name="parts"/> (same rank and dtype, equal sizes except along <paramref name="dim"/>) joined
    /// along <paramref name="dim"/> into a new tensor.
    /// </summary>
    public static Tensor Concat(int dim, params Tensor[] parts)
    {
        const string op = "cat";
        using var profile = Profiler.Op(op, parts);
        if (parts.Length == 0)
            throw new ArgumentException($"{op}: no tensors given");
        Check.Alive(op, parts);
        Check.SameDevice(op, parts);
        var first = parts[0];
        int d = first.Layout.NormalizeDim(dim, op);
        var shape = first.ShapeArray;
        shape[d] = 0;
        foreach (var p in parts)
        {
            if (p.Rank != first.Rank || p.DType != first.DType)
                throw Check.Fail(op, "all tensors need the same rank and dtype", parts);
            for (int i = 0; i < p.Rank; i++)
                if (i != d && p.Shape[i] != first.Shape[i])
                    throw Check.Fail(op, $"sizes differ in dim {i}, which is not the cat dim {d}", parts);
            shape[d] += p.Shape[d];
        }
        var y = Tensor.Empty(shape, first.DType, first.Device);
        var starts = new int[parts.Length];
        int at = 0;
        for (int i = 0; i < parts.Length; i++)
        {
            starts[i] = at;
            using var window = y.Restride(y.Layout.Narrow(d, at, parts[i].Shape[d]));
            window.CopyFrom(parts[i]);
            at += parts[i].Shape[d];
        }
        return Graph.Record(y, op, parts, (g, need) =>
            [.. parts.Select((p, i) => need[i] ? g.Restride(g.Layout.Narrow(d, starts[i], p.Shape[d])) : null)]);
    }
}
