using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>RMSNorm over the last dim with a weight (F32/BF16/F16); the weight gets a gradient only if it wants one.</summary>
public static class RmsNormOp
{
    extension(Tensor x)
    {
        /// <summary>
        /// x · rsqrt(mean(x²) + <paramref name="eps"/>) · <paramref name="weight"/> over the last dim, as Llama's
        /// RMSNorm; weight [dim] in F32, BF16 or F16.
        /// </summary>
        public Tensor RmsNorm(Tensor weight, float eps)
        {
            const string op = "rms_norm";
            using var profile = Profiler.Op(op, x, weight);
            Check.Alive(op, x, weight);
            Check.SameDevice(op, x, weight);
            int d = x.Shape[^1];
            var xc = Graph.ContiguousData(x);
            var y = Graph.Empty(x.ShapeArray, x);
            var rstd = Graph.Empty([checked((int)(x.Numel / Math.Max(d, 1)))], x);
            Graph.Backend(op, xc, weight).RmsNorm(y, rstd, xc, weight, eps);
            return Graph.Record(y, op, [x, weight], [xc, rstd], (g, need) =>
            {
                var dx = Graph.Empty(x.ShapeArray, g);
                var dw = need[1] ? Graph.Empty([d], g) : null;
                Graph.Backend(op, g, xc, weight).RmsNormBackward(dx, dw, g, xc, weight, rstd);
                return [need[0] ? dx : null, dw];
            });
        }
    }
}
