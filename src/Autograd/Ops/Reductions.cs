using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>Sum and mean over dims (gradient: broadcast back), max and argmax (no gradient).</summary>
public static class Reductions
{
    extension(Tensor x)
    {
        /// <summary>Sum over <paramref name="dims"/> (all dims if null).</summary>
        public Tensor Sum(int[]? dims = null, bool keepDim = false) => Reduce(x, ReduceOp.Sum, dims, keepDim, "sum");

        /// <summary>
        /// Mean over <paramref name="dims"/> (all dims if null); size-1 dims kept where <paramref name="keepDim"/>.
        /// </summary>
        public Tensor Mean(int[]? dims = null, bool keepDim = false) => Reduce(x, ReduceOp.Mean, dims, keepDim, "mean");

        /// <summary>Maximum over dims. It has no gradient rule: a gradient through it throws.</summary>
        public Tensor Max(int[]? dims = null, bool keepDim = false) => Reduce(x, ReduceOp.Max, dims, keepDim, "max");

        /// <summary>Index of the first maximum along <paramref name="dim"/> (int64, not differentiable).</summary>
        public Tensor ArgMax(int dim = -1, bool keepDim = false)
        {
            using var profile = Profiler.Op("argmax", x);
            Check.Alive("argmax", x);
            var keep = KeepShape(x, [dim], "argmax", out var outShape, keepDim);
            var idx = Tensor.Empty(keep, DType.I64, x.Device);
            Graph.Backend("argmax", x).Reduce(ReduceOp.ArgMax, idx, x);
            var y = idx.Restride(Layout.Contiguous(outShape));
            idx.Dispose();
            return y;
        }
    }

    private static Tensor Reduce(Tensor x, ReduceOp op, int[]? dims, bool keepDim, string name)
    {
        using var profile = Profiler.Op(name, x);
        Check.Alive(name, x);
        Check.Float(name, x, "input");
        var keep = KeepShape(x, dims, name, out var outShape, keepDim);
        var r = Graph.Empty(keep, x);
        Graph.Backend(name, x).Reduce(op, r, x);
        var y = r.Restride(Layout.Contiguous(outShape));
        r.Dispose();
        var inShape = x.ShapeArray;
        long count = x.Numel / Math.Max(1, Shapes.Numel(keep));
        return Graph.Record(y, name, [x], (g, _) =>
        {
            var spread = g.Reshape(keep).Expand(inShape);
            return op switch
            {
                ReduceOp.Sum => [spread],
                ReduceOp.Mean => [spread * (1f / count)],
                _ => throw new NotSupportedException($"{name} has no gradient rule: it cannot pass a gradient to {x.Describe()}"),
            };
        });
    }

    /// <summary>The keepdim shape of the reduction and, in outShape, the shape returned to the caller.</summary>
    private static int[] KeepShape(Tensor x, int[]? dims, string op, out int[] outShape, bool keepDim)
    {
        var reduce = new bool[x.Rank];
        if (dims is null)
            Array.Fill(reduce, true);
        else
            foreach (int d in dims)
                reduce[x.Layout.NormalizeDim(d, op)] = true;
        var keep = x.ShapeArray;
        var kept = new List<int>();
        for (int i = 0; i < x.Rank; i++)
        {
            if (reduce[i])
                keep[i] = 1;
            if (!reduce[i] || keepDim)
                kept.Add(keep[i]);
        }
        outShape = [.. kept];
        return keep;
    }
}
