namespace RawLongLoRA.Kernels.Cpu;

/// <summary>From tensors to the pointer-based attention kernel: layouts and shapes checked once here.</summary>
internal static unsafe class AttentionCall
{
    public static void Forward(Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v, AttentionSpec spec)
    {
        var (b, t, s, hq, hkv, d) = Dims("attention", q, k, v);
        Expect("attention", o, "output", b, t, hq, d);
        Expect("attention", lse, "lse", b, hq, t);
        Attention.Forward((float*)o.DataPointer, (float*)lse.DataPointer, (float*)q.DataPointer, (float*)k.DataPointer, (float*)v.DataPointer, b, t, s, hq, hkv, d, spec);
    }

    public static void Backward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, AttentionSpec spec)
    {
        const string op = "attention_backward";
        var (b, t, s, hq, hkv, d) = Dims(op, q, k, v);
        Expect(op, o, "output", b, t, hq, d);
        Expect(op, dout, "dout", b, t, hq, d);
        Expect(op, dq, "dq", b, t, hq, d);
        Expect(op, dk, "dk", b, s, hkv, d);
        Expect(op, dv, "dv", b, s, hkv, d);
        Expect(op, lse, "lse", b, hq, t);
        Attention.Backward((float*)dq.DataPointer, (float*)dk.DataPointer, (float*)dv.DataPointer, (float*)dout.DataPointer,
            (float*)q.DataPointer, (float*)k.DataPointer, (float*)v.DataPointer, (float*)o.DataPointer, (float*)lse.DataPointer, b, t, s, hq, hkv, d, spec);
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
