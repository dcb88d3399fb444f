using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>Softmax over the last dim; backward dx = y ⊙ (g − Σ g·y), from the saved output.</summary>
public static class SoftmaxOp
{
    extension(Tensor x)
    {
        /// <summary>Softmax over the last dim.</summary>
        public Tensor Softmax()
        {
            using var profile = Profiler.Op("softmax", x);
            Check.Alive("softmax", x);
            using var xc = Graph.ContiguousData(x);
            var y = Graph.Empty(x.ShapeArray, x);
            Graph.Backend("softmax", x).Softmax(y, xc);
            return Graph.Record(y, "softmax", [x], (g, _) =>
            {
                var dx = Graph.Empty(g.ShapeArray, g);
                Graph.Backend("softmax", g, y).SoftmaxBackward(dx, y, g);
                return [dx];
            });
        }
    }
}
