using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>Token embedding lookup: y[..., :] = weight[ids[...]]; the weight's gradient is a scatter-add of g.</summary>
public static class EmbeddingOp
{
    extension(Tensor weight)
    {
        /// <summary>
        /// Rows of this weight [vocab, dim] picked by <paramref name="ids"/> (I32/I64, any shape): [..ids' shape,
        /// dim].
        /// </summary>
        public Tensor Embedding(Tensor ids)
        {
            const string op = "embedding";
            using var profile = Profiler.Op(op, weight, ids);
            Check.Alive(op, weight, ids);
            var backend = Graph.Backend(op, weight, ids);
            Check.Rank(op, weight, "weight [vocab, dim]", 2);
            int n = checked((int)ids.Numel), d = weight.Shape[1];
            using var idc = Graph.ContiguousData(ids);
            var flatIds = idc.Restride(Layout.Contiguous([n], idc.Layout.Offset));
            var y = Graph.Empty([.. ids.ShapeArray, d], weight);
            using (var y2 = y.Restride(Layout.Contiguous([n, d])))
                backend.EmbeddingGather(y2, weight, flatIds);
            return Graph.Record(y, op, [weight], [flatIds], (g, _) =>
            {
                var dw = Tensor.Zeros(weight.ShapeArray, DType.F32, g.Device);
                using var g2 = g.Restride(Layout.Contiguous([n, d]));
                Graph.Backend(op, g, flatIds).EmbeddingScatterAdd(dw, g2, flatIds);
                return [dw];
            });
        }
    }
}
