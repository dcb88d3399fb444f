using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>
/// Causal attention with the masks of <see cref="AttentionSpec"/> (query and key blocks by absolute position,
/// packed sequences, S2-Attn groups): q [B, T, Hq, D], k and v [B, S, Hkv, D] → o [B, T, Hq, D]. The kernel
/// keeps only the row log-sum-exp for backward, never the [T × S] probabilities. As a part to be merged
/// (<see cref="AttentionPart"/>) it gives lse too, and takes lse's gradient in backward.
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
            var backend = CheckInputs(op, q, k, v, spec);
            var o = Graph.Empty(q.ShapeArray, q);
            var lse = Graph.Empty([q.Shape[0], q.Shape[2], q.Shape[1]], q);
            return Run(backend, op, q, k, v, spec, o, lse, o, g => (g, null));
        }

        /// <summary>
        /// As <see cref="Attention"/>, over the keys of one block only — typically those at positions
        /// [spec.KeyStart, spec.KeyStart + S) of a longer row — keeping lse: a part that
        /// <see cref="AttentionPart.Merge"/> combines with the parts over the other keys into the attention over all.
        /// </summary>
        public AttentionPart AttentionPart(Tensor k, Tensor v, AttentionSpec spec)
        {
            const string op = "attention_part";
            using var profile = Profiler.Op(op, q, k, v);
            var backend = CheckInputs(op, q, k, v, spec);
            var part = global::RawLongLoRA.AttentionPart.Empty(q.ShapeArray, q);
            Run(backend, op, q, k, v, spec, part.OData(part.Packed), part.LseData(part.Packed), part.Packed, part.Split);
            return part;
        }
    }

    /// <summary>Checks the inputs before anything is allocated; the backend they and the spec's packed starts share.</summary>
    private static IBackend CheckInputs(string op, Tensor q, Tensor k, Tensor v, AttentionSpec spec)
    {
        Check.Alive(op, q, k, v, spec.SequenceStarts);
        var backend = Graph.Backend(op, q, k, v, spec.SequenceStarts);
        Check.Rank(op, q, "q [batch, tokens, heads, head_dim]", 4);
        return backend;
    }

    /// <summary>
    /// The forward into o and lse (views of <paramref name="output"/>, which carries the history), and the node whose
    /// backward takes dout and dlse out of output's gradient by <paramref name="split"/>.
    /// </summary>
    private static Tensor Run(IBackend backend, string op, Tensor q, Tensor k, Tensor v, AttentionSpec spec, Tensor o, Tensor lse, Tensor output, Func<Tensor, (Tensor Dout, Tensor? Dlse)> split)
    {
        var qc = Graph.ContiguousData(q);
        var kc = Graph.ContiguousData(k);
        var vc = Graph.ContiguousData(v);
        backend.AttentionForward(o, lse, qc, kc, vc, spec);
        // The node keeps a handle of its own on o: a one-call o is the caller's to dispose; a part's o is already one.
        var oSaved = ReferenceEquals(o, output) ? o.Restride(o.Layout) : o;
        // And on the packed starts, which backward reads after the caller may have let go of its batch.
        var starts = spec.SequenceStarts?.Restride(spec.SequenceStarts.Layout);
        var saved = starts is null ? spec : spec with { SequenceStarts = starts };
        return Graph.Record(output, op, [q, k, v], starts is null ? [qc, kc, vc, lse, oSaved] : [qc, kc, vc, lse, oSaved, starts], (g, need) =>
        {
            var dq = Graph.Empty(q.ShapeArray, g);
            var dk = Graph.Empty(k.ShapeArray, g);
            var dv = Graph.Empty(v.ShapeArray, g);
            var (dout, dlse) = split(g);
            Graph.Backend(op, g, qc).AttentionBackward(dq, dk, dv, dout, qc, kc, vc, oSaved, lse, saved, dlse);
            return [need[0] ? dq : null, need[1] ? dk : null, need[2] ? dv : null];
        });
    }
}
