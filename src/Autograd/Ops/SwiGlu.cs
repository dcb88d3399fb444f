using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>The Llama MLP's gate: silu(gate) · up, fused forward and backward.</summary>
public static class SwiGluOp
{
    extension(Tensor gate)
    {
        /// <summary>silu(this) · <paramref name="up"/> (same shape), fused.</summary>
        public Tensor SwiGlu(Tensor up)
        {
            const string op = "swiglu";
            using var profile = Profiler.Op(op, gate, up);
            Check.Alive(op, gate, up);
            Check.SameShape(op, gate, up);
            var gc = Graph.ContiguousData(gate);
            var uc = Graph.ContiguousData(up);
            var y = Graph.Empty(gate.ShapeArray, gate);
            Graph.Backend(op, gate, up).SwiGlu(y, gc, uc);
            return Graph.Record(y, op, [gate, up], [gc, uc], (g, need) =>
            {
                var dgate = Graph.Empty(g.ShapeArray, g);
                var dup = Graph.Empty(g.ShapeArray, g);
                Graph.Backend(op, g, gc).SwiGluBackward(dgate, dup, g, gc, uc);
                return [need[0] ? dgate : null, need[1] ? dup : null];
            });
        }
    }
}
