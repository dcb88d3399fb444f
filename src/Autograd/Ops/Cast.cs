using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>dtype conversion; gradients are float32, so the rule passes g through (cast back where needed).</summary>
public static class Cast
{
    extension(Tensor x)
    {
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
