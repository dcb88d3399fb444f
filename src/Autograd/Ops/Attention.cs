using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>
/// Causal attention with the masks of <see cref="AttentionSpec"/> (KV-cache offset, packed sequences,
/// S2-Attn groups): q [B, T, Hq, D], k and v [B, S, Hkv, D] → o [B, T, Hq, D]. The kernel keeps only
/// the row log-sum-exp for backward, never the [T × S] probabilities.
/// </summary>
public static class AttentionOp
{
    extension(Tensor q)
    {
        /// <summary>
        /// Attention of this tensor as q [B, T, Hq, D] over <paramref name="k"/> and <paramref name="v"/> [B, S, Hkv,
        /// D] (float32; Hq a multiple of Hkv) with the masks of <paramref name="spec"/> (default: plain causal): o
        /// [B, T, Hq, D].
        /// </summary>
        public Tensor Attention(Tensor k, Tensor v, AttentionSpec? spec = null)
        {
            const string op = "attention";
            using var profile = Profiler.Op(op, q, k, v);
            spec ??= AttentionSpec.Causal;
            Check.Alive(op, q, k, v);
            var backend = Graph.Backend(op, q, k, v);
            Check.Rank(op, q, "q [batch, tokens, heads, head_dim]", 4);
            var qc = Graph.ContiguousData(q);
            var kc = Graph.ContiguousData(k);
            var vc = Graph.ContiguousData(v);
            int b = q.Shape[0], t = q.Shape[1], hq = q.Shape[2];
            var o = Graph.Empty(q.ShapeArray, q);
            var lse = Graph.Empty([b, hq, t], q);
            backend.AttentionForward(o, lse, qc, kc, vc, spec);
            var oSaved = o.Restride(o.Layout);
            return Graph.Record(o, op, [q, k, v], [qc, kc, vc, lse, oSaved], (g, need) =>
            {
                var dq = Graph.Empty(q.ShapeArray, g);
                var dk = Graph.Empty(k.ShapeArray, g);
                var dv = Graph.Empty(v.ShapeArray, g);
                Graph.Backend(op, g, qc).AttentionBackward(dq, dk, dv, g, qc, kc, vc, oSaved, lse, spec);
                return [need[0] ? dq : null, need[1] ? dk : null, need[2] ? dv : null];
            });
        }
    }
}
