namespace RawLongLoRA;

/// <summary>
/// Mean cross-entropy of logits [N, V] against targets [N] over the targets that are not ignoreIndex
/// (as torch.nn.functional.cross_entropy with reduction="mean": NaN if every target is ignored).
/// </summary>
public static class CrossEntropyOp
{
    public const int IgnoreIndex = -100;

    extension(Tensor logits)
    {
        public Tensor CrossEntropy(Tensor targets, int ignoreIndex = IgnoreIndex)
        {
            const string op = "cross_entropy";
            Check.Alive(op, logits, targets);
            Check.Rank(op, logits, "logits [tokens, vocab]", 2);
            int n = logits.Shape[0];
            var lc = Graph.ContiguousData(logits);
            var tc = Graph.ContiguousData(targets);
            var rowLoss = Graph.Empty([n], logits);
            var lse = Graph.Empty([n], logits);
            var backend = Graph.Backend(logits);
            backend.CrossEntropy(rowLoss, lse, lc, tc, ignoreIndex);
            long counted = tc.DType == DType.I64 ? tc.ToArray<long>().LongCount(t => t != ignoreIndex) : tc.ToArray<int>().LongCount(t => t != ignoreIndex);
            var total = Graph.Empty([], logits);
            using (var total1 = total.Restride(Layout.Contiguous([1])))
                backend.Reduce(ReduceOp.Sum, total1, rowLoss);
            rowLoss.Dispose();
            backend.Unary(UnaryOp.Scale, total, total, counted == 0 ? float.NaN : 1f / counted);
            return Graph.Record(total, op, [logits], [lc, tc, lse], (g, _) =>
            {
                var dloss = Tensor.Full([n], g.Item() / counted, DType.F32, g.Device);
                var dlogits = Graph.Empty(logits.ShapeArray, g);
                Graph.Backend(g).CrossEntropyBackward(dlogits, dloss, lc, lse, tc, ignoreIndex);
                return [dlogits];
            });
        }
    }
}
