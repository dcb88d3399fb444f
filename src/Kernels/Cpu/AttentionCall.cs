namespace RawLongLoRA.Kernels.Cpu;

/// <summary>From tensors to the pointer-based attention kernel: layouts and shapes checked once here; the calling thread's <see cref="Autocast"/> precision passed on.</summary>
internal static unsafe class AttentionCall
{
    public static void Forward(Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v, AttentionSpec spec)
    {
        var (b, t, s, hq, hkv, d) = ForwardDims(o, lse, q, k, v);
        Attention.Forward((float*)o.DataPointer, (float*)lse.DataPointer, (float*)q.DataPointer, (float*)k.DataPointer, (float*)v.DataPointer, b, t, s, hq, hkv, d, spec, Autocast.Current);
    }

    public static void Backward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, AttentionSpec spec, Tensor? dlse)
    {
        var (b, t, s, hq, hkv, d) = BackwardDims(dq, dk, dv, dout, q, k, v, o, lse, dlse);
        Attention.Backward((float*)dq.DataPointer, (float*)dk.DataPointer, (float*)dv.DataPointer, (float*)dout.DataPointer,
            (float*)q.DataPointer, (float*)k.DataPointer, (float*)v.DataPointer, (float*)o.DataPointer, (float*)lse.DataPointer, b, t, s, hq, hkv, d, spec,
            dlse is null ? null : (float*)dlse.DataPointer, Autocast.Current);
    }

    /// <summary>
    /// The forward's operands checked — float32, contiguous, o and lse shaped to fit q, k, v — for every backend:
    /// (B, T, S, Hq, Hkv, D).
    /// </summary>
    internal static (int B, int T, int S, int Hq, int Hkv, int D) ForwardDims(Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v)
    {
        var dims = Dims("attention", q, k, v);
        Expect("attention", o, "output", dims.B, dims.T, dims.Hq, dims.D);
        Expect("attention", lse, "lse", dims.B, dims.Hq, dims.T);
        return dims;
    }

    /// <summary>The backward's operands checked as <see cref="ForwardDims"/> does the forward's (dlse may be null).</summary>
    internal static (int B, int T, int S, int Hq, int Hkv, int D) BackwardDims(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, Tensor? dlse)
    {
        const string op = "attention_backward";
        var (b, t, s, hq, hkv, d) = Dims(op, q, k, v);
        Expect(op, o, "output", b, t, hq, d);
        Expect(op, dout, "dout", b, t, hq, d);
        Expect(op, dq, "dq", b, t, hq, d);
        Expect(op, dk, "dk", b, s, hkv, d);
        Expect(op, dv, "dv", b, s, hkv, d);
        Expect(op, lse, "lse", b, hq, t);
        if (dlse is not null)
            Expect(op, dlse, "dlse", b, hq, t);
        return (b, t, s, hq, hkv, d);
    }

    public static void Merge(Tensor o, Tensor lse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB)
    {
        var (b, t, hq, d) = MergeDims(o, lse, oA, lseA, oB, lseB);
        AttentionMerge.Forward((float*)o.DataPointer, (float*)lse.DataPointer, (float*)oA.DataPointer, (float*)lseA.DataPointer,
            (float*)oB.DataPointer, (float*)lseB.DataPointer, b, t, hq, d);
    }

    public static void MergeBackward(Tensor doA, Tensor dlseA, Tensor doB, Tensor dlseB, Tensor dout, Tensor? dlse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB, Tensor o, Tensor lse)
    {
        var (b, t, hq, d) = MergeBackwardDims(doA, dlseA, doB, dlseB, dout, dlse, oA, lseA, oB, lseB, o, lse);
        AttentionMerge.Backward((float*)doA.DataPointer, (float*)dlseA.DataPointer, (float*)doB.DataPointer, (float*)dlseB.DataPointer,
            (float*)dout.DataPointer, dlse is null ? null : (float*)dlse.DataPointer, (float*)oA.DataPointer, (float*)lseA.DataPointer,
            (float*)oB.DataPointer, (float*)lseB.DataPointer, (float*)o.DataPointer, (float*)lse.DataPointer, b, t, hq, d);
    }

    /// <summary>The checks of AttentionMerge, shared by every backend: every o [B, T, Hq, D] and lse [B, Hq, T], float32, contiguous.</summary>
    internal static (int B, int T, int Hq, int D) MergeDims(Tensor o, Tensor lse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB)
        => PartDims("attention_merge", o, lse, (oA, lseA, "A"), (oB, lseB, "B"));

    /// <summary>The checks of AttentionMergeBackward, shared by every backend: the forward's, and the gradients' shapes alike.</summary>
    internal static (int B, int T, int Hq, int D) MergeBackwardDims(Tensor doA, Tensor dlseA, Tensor doB, Tensor dlseB, Tensor dout, Tensor? dlse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB, Tensor o, Tensor lse)
    {
        const string op = "attention_merge_backward";
        var (b, t, hq, d) = PartDims(op, o, lse, (oA, lseA, "A"), (oB, lseB, "B"), (doA, dlseA, "A's gradient"), (doB, dlseB, "B's gradient"));
        Expect(op, dout, "dout", b, t, hq, d);
        if (dlse is not null)
            Expect(op, dlse, "dlse", b, hq, t);
        return (b, t, hq, d);
    }

    /// <summary>o [B, T, Hq, D] and lse [B, Hq, T] of the result; every part's (o, lse) the same shapes.</summary>
    private static (int B, int T, int Hq, int D) PartDims(string op, Tensor o, Tensor lse, params (Tensor O, Tensor Lse, string Part)[] parts)
    {
        Check.Alive(op, o, lse);
        Check.Rank(op, o, "o [batch, tokens, heads, head_dim]", 4);
        int b = o.Shape[0], t = o.Shape[1], hq = o.Shape[2], d = o.Shape[3];
        Expect(op, o, "o", b, t, hq, d);
        Expect(op, lse, "lse", b, hq, t);
        foreach (var (po, pl, part) in parts)
        {
            Expect(op, po, $"o of part {part}", b, t, hq, d);
            Expect(op, pl, $"lse of part {part}", b, hq, t);
        }
        return (b, t, hq, d);
    }

    private static (int B, int T, int S, int Hq, int Hkv, int D) Dims(string op, Tensor q, Tensor k, Tensor v)
    {
        Check.Alive(op, q, k, v);
        Check.Rank(op, q, "q [batch, tokens, heads, head_dim]", 4);
        Check.Rank(op, k, "k [batch, keys, kv_heads, head_dim]", 4);
        Check.SameShape(op, k, v);
        int b = q.Shape[0], t = q.Shape[1], hq = q.Shape[2], d = q.Shape[3];
        int s = k.Shape[1], hkv = k.Shape[2];
        if (k.Shape[0] != b || k.Shape[3] != d || hkv == 0 || hq % hkv != 0)
            throw Check.Fail(op, "k/v must be [batch, keys, kv_heads, head_dim] with query heads a multiple of kv heads", q, k, v);
        foreach (var (x, role) in new[] { (q, "q"), (k, "k"), (v, "v") })
        {
            Check.F32(op, x, role);
            Check.Contiguous(op, x, role);
        }
        return (b, t, s, hq, hkv, d);
    }

    private static void Expect(string op, Tensor x, string role, params int[] shape)
    {
        Check.Alive(op, x);
        Check.F32(op, x, role);
        Check.Contiguous(op, x, role);
        Check.Shape(op, x, role, shape);
    }
}
