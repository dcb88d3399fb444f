using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>
/// Rotary embedding on x [..., heads, head_dim] with cos/sin tables [positions, head_dim/2] and one
/// position per token; the gradient is the inverse rotation of g. The tables are constants.
/// </summary>
public static class RopeOp
{
    extension(Tensor x)
    {
        /// <summary>
        /// This tensor rotated in Hugging Face's rotate-half layout: token n by the angles of row
        /// <paramref name="positions"/>[n] (I32/I64, one per token) of <paramref name="cos"/> and <paramref name="sin"/>
        /// [max_positions, head_dim/2].
        /// </summary>
        public Tensor Rope(Tensor cos, Tensor sin, Tensor positions)
        {
            const string op = "rope";
            using var profile = Profiler.Op(op, x, positions);
            Check.Alive(op, x, cos, sin, positions);
            var backend = Graph.Backend(op, x, cos, sin, positions);
            if (x.Rank < 2)
                throw Check.Fail(op, "input must be [..., heads, head_dim]", x);
            if (cos.RequiresGrad || sin.RequiresGrad)
                throw Check.Fail(op, "cos/sin tables are constants and cannot require grad", cos, sin);
            int h = x.Shape[^2], d = x.Shape[^1];
            int n = checked((int)(x.Numel / Math.Max(1, h * d)));
            if (positions.Numel != n)
                throw Check.Fail(op, $"one position per token: expected {n} positions", x, positions);
            int[] tokens = [n, h, d];
            var pos = Flat(positions, [n]);
            var cosC = Graph.ContiguousData(cos);
            var sinC = Graph.ContiguousData(sin);
            var y = Graph.Empty(x.ShapeArray, x);
            using (var x3 = Flat(x, tokens))
            using (var y3 = y.Restride(Layout.Contiguous(tokens)))
                backend.Rope(y3, x3, cosC, sinC, pos, inverse: false);
            return Graph.Record(y, op, [x], [pos, cosC, sinC], (g, _) =>
            {
                var dx = Graph.Empty(g.ShapeArray, g);
                using var g3 = g.Restride(Layout.Contiguous(tokens));
                using var dx3 = dx.Restride(Layout.Contiguous(tokens));
                Graph.Backend(op, g, cosC).Rope(dx3, g3, cosC, sinC, pos, inverse: true);
                return [dx];
            });
        }
    }

    /// <summary>A contiguous handle on t's data with the given shape (same element count).</summary>
    private static Tensor Flat(Tensor t, int[] shape)
    {
        using var c = Graph.ContiguousData(t);
        return c.Restride(Layout.Contiguous(shape, c.Layout.Offset));
    }
}
