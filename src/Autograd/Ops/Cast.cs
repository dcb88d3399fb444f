using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>dtype conversion; gradients are float32, so the rule passes g through (cast back where needed).</summary>
public static class Cast
{
    extension(Tensor x)
    {
        /// <summary>
        /// A copy converted to <paramref name="dtype"/> (rounded to nearest even into BF16/F16). Casting to an
        /// integer type ends the graph; a floating cast passes the gradient through as float32.
        /// </summary>
        public Tensor To(DType dtype)
        {
            using var profile = Profiler.Op("to", x);
            Check.Alive("to", x);
            var y = Tensor.Empty(x.ShapeArray, dtype, x.Device);
            y.CopyFrom(x);
            if (!dtype.IsFloat())
                return y;
            return Graph.Record(y, "to", [x], (g, _) => [g]);
        }
    }
}
