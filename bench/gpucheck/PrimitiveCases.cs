namespace RawLongLoRA.Bench.GpuCheck;

/// <summary>What a case hands back: the call to check (and to time), and the tensors it writes.</summary>
internal sealed record PrimitiveCall(Action Run, Tensor[] Outputs);

/// <summary>
/// One primitive on one kind of input: <see cref="Make"/> builds the inputs and poisoned outputs on a side (the same
/// values on every side, from <see cref="CaseTensors"/>) and returns the call on a backend. The outputs of the device
/// must be within <see cref="Tolerance"/> (<see cref="Training.Checks.MaxRelativeError"/>) of the CPU's.
/// </summary>
internal sealed record PrimitiveCase(string Primitive, string Variant, double Tolerance, Func<IBackend, CaseTensors, PrimitiveCall> Make);

/// <summary>The sizes the cases use: tiny on ILGPU's CPU accelerator, a few thousand elements a row on a GPU.</summary>
internal sealed record CheckShapes(int Rows, int Dim, int M, int N, int K, int Batch, int Tokens, int Heads, int KvHeads, int HeadDim, int Vocab)
{
    /// <summary>Odd sizes a CPU accelerator runs in seconds.</summary>
    public static readonly CheckShapes Tiny = new(Rows: 5, Dim: 13, M: 5, N: 7, K: 9, Batch: 2, Tokens: 16, Heads: 2, KvHeads: 1, HeadDim: 8, Vocab: 11);

    /// <summary>Odd sizes past one tile or block in every dim, for a GPU.</summary>
    public static readonly CheckShapes Gpu = new(Rows: 300, Dim: 1000, M: 257, N: 511, K: 320, Batch: 3, Tokens: 512, Heads: 8, KvHeads: 2, HeadDim: 64, Vocab: 5003);
}

/// <summary>
/// Every <see cref="IBackend"/> primitive on random inputs, with the variants that reach different code: each unary,
/// binary and reduce op, casts and strided views where the contract takes them, bf16 operands, S2-Attn with packed
/// sequences. Data movement and ArgMax must match exactly; the rest within bf16's tolerance.
/// </summary>
internal static class PrimitiveCases
{
    /// <summary>2⁻⁷ of the largest magnitude: two roundings to bfloat16's 8-bit significand.</summary>
    public const double Bf16 = 1.0 / 128;

    public static IEnumerable<PrimitiveCase> All(CheckShapes s)
    {
        int r = s.Rows, d = s.Dim;
        yield return new("Copy", "f32 → bf16, transposed source", 0, (b, t) =>
        {
            var x = t.Normal([d, r]);
            var y = t.Poisoned([r, d], DType.BF16);
            return new(() => b.Copy(y, x.Transpose(0, 1)), [y]);
        });
        yield return new("Fill", "transposed view", 0, (b, t) =>
        {
            var y = t.Poisoned([d, r]);
            return new(() => b.Fill(y.Transpose(0, 1), 0.375), [y]);
        });
        foreach (var kind in Enum.GetValues<RandomKind>())
            yield return new("Random", kind.ToString().ToLowerInvariant(), kind == RandomKind.Bernoulli ? 0 : Bf16, (b, t) =>
            {
                var y = t.Poisoned([r, d]);
                return new(() => b.Random(y, kind, 1234, 5, kind == RandomKind.Bernoulli ? 0.3f : 0.5f, 2f), [y]);
            });

        yield return new("Gemm", "f32, b a transposed view", Bf16, (b, t) =>
        {
            var a = t.Normal([s.M, s.K]);
            var bt = t.Normal([s.N, s.K]);
            var c = t.Poisoned([s.M, s.N]);
            return new(() => b.Gemm(c, a, bt.Transpose(0, 1)), [c]);
        });
        yield return new("Gemm", "bf16 operands, batched, alpha 0.5, beta 1", Bf16, (b, t) =>
        {
            var a = t.Normal([s.Batch, s.M, s.K], DType.BF16);
            var bm = t.Normal([s.Batch, s.K, s.N], DType.BF16);
            var c = t.Normal([s.Batch, s.M, s.N]);
            return new(() => b.Gemm(c, a, bm, 0.5f, 1f), [c]);
        });

        foreach (var op in Enum.GetValues<UnaryOp>())
            yield return new("Unary", op.ToString(), Bf16, (b, t) =>
            {
                var x = t.Uniform([r, d], 0.25f, 2f); // in every op's domain (log, sqrt, pow)
                var y = t.Poisoned([r, d]);
                return new(() => b.Unary(op, y, x, op switch { UnaryOp.Scale => 0.7f, UnaryOp.AddScalar => 0.3f, UnaryOp.Pow => 1.5f, _ => 0f }), [y]);
            });
        foreach (var op in Enum.GetValues<BinaryOp>())
            yield return new("Binary", $"{op}, b broadcast over rows", Bf16, (b, t) =>
            {
                var a = t.Normal([r, d]);
                var row = t.Uniform([1, d], 0.25f, 2f);
                var y = t.Poisoned([r, d]);
                return new(() => b.Binary(op, y, a, row), [y]);
            });
        foreach (var op in Enum.GetValues<ReduceOp>())
            yield return new("Reduce", $"{op} over the last dim", op == ReduceOp.ArgMax ? 0 : Bf16, (b, t) =>
            {
                var x = t.Normal([r, d]);
                var y = t.Poisoned([r, 1], op == ReduceOp.ArgMax ? DType.I64 : DType.F32);
                return new(() => b.Reduce(op, y, x), [y]);
            });
        yield return new("Reduce", "Sum over the first dim of a transposed view", Bf16, (b, t) =>
        {
            var x = t.Normal([d, r]);
            var y = t.Poisoned([1, d]);
            return new(() => b.Reduce(ReduceOp.Sum, y, x.Transpose(0, 1)), [y]);
        });

        foreach (var c in Rows(s))
            yield return c;
        foreach (var c in Attention(s))
            yield return c;

        yield return new("AdamW", "step 3, weight decay 0.01", Bf16, (b, t) =>
        {
            var p = t.Normal([r, d]);
            var g = t.Normal([r, d]);
            var m = t.Normal([r, d]);
            var v = t.Uniform([r, d], 0.01f, 1f);
            return new(() => b.AdamW(p, g, m, v, new AdamWStep(1e-3, 0.9, 0.999, 1e-8, 0.01, 3)), [p, m, v]);
        });
    }

    /// <summary>The row kernels: softmax, RMSNorm, RoPE, SwiGLU, embedding, cross-entropy, with their backwards.</summary>
    private static IEnumerable<PrimitiveCase> Rows(CheckShapes s)
    {
        int r = s.Rows, d = s.Dim, v = s.Vocab;
        yield return new("Softmax", "", Bf16, (b, t) =>
        {
            var x = t.Normal([r, d]);
            var y = t.Poisoned([r, d]);
            return new(() => b.Softmax(y, x), [y]);
        });
        yield return new("SoftmaxBackward", "", Bf16, (b, t) =>
        {
            var y = t.Uniform([r, d], 0f, 1f);
            var dy = t.Normal([r, d]);
            var dx = t.Poisoned([r, d]);
            return new(() => b.SoftmaxBackward(dx, y, dy), [dx]);
        });
        yield return new("RmsNorm", "bf16 weight", Bf16, (b, t) =>
        {
            var x = t.Normal([r, d]);
            var w = t.Normal([d], DType.BF16);
            var (y, rstd) = (t.Poisoned([r, d]), t.Poisoned([r]));
            return new(() => b.RmsNorm(y, rstd, x, w, 1e-5f), [y, rstd]);
        });
        yield return new("RmsNormBackward", "with dweight", Bf16, (b, t) =>
        {
            var (dy, x, w, rstd) = (t.Normal([r, d]), t.Normal([r, d]), t.Normal([d]), t.Uniform([r], 0.5f, 2f));
            var (dx, dw) = (t.Poisoned([r, d]), t.Poisoned([d]));
            return new(() => b.RmsNormBackward(dx, dw, dy, x, w, rstd), [dx, dw]);
        });
        foreach (bool inverse in new[] { false, true })
            yield return new("Rope", inverse ? "inverse (backward)" : "forward", Bf16, (b, t) =>
            {
                var x = t.Normal([r, s.Heads, s.HeadDim]);
                var (cos, sin) = (t.Uniform([2 * r, s.HeadDim / 2], -1f, 1f), t.Uniform([2 * r, s.HeadDim / 2], -1f, 1f));
                var positions = t.Ids(r, 2 * r);
                var y = t.Poisoned([r, s.Heads, s.HeadDim]);
                return new(() => b.Rope(y, x, cos, sin, positions, inverse), [y]);
            });
        yield return new("SwiGlu", "", Bf16, (b, t) =>
        {
            var (gate, up) = (t.Normal([r, d]), t.Normal([r, d]));
            var y = t.Poisoned([r, d]);
            return new(() => b.SwiGlu(y, gate, up), [y]);
        });
        yield return new("SwiGluBackward", "", Bf16, (b, t) =>
        {
            var (dy, gate, up) = (t.Normal([r, d]), t.Normal([r, d]), t.Normal([r, d]));
            var (dgate, dup) = (t.Poisoned([r, d]), t.Poisoned([r, d]));
            return new(() => b.SwiGluBackward(dgate, dup, dy, gate, up), [dgate, dup]);
        });
        yield return new("EmbeddingGather", "bf16 table, I32 ids", 0, (b, t) =>
        {
            var w = t.Normal([v, d], DType.BF16);
            var ids = t.Ids(r, v, DType.I32);
            var y = t.Poisoned([r, d]);
            return new(() => b.EmbeddingGather(y, w, ids), [y]);
        });
        yield return new("EmbeddingScatterAdd", "repeated ids onto a filled table", Bf16, (b, t) =>
        {
            var dw = t.Normal([v, d]);
            var dy = t.Normal([3 * r, d]);
            var ids = t.Ids(3 * r, v);
            return new(() => b.EmbeddingScatterAdd(dw, dy, ids), [dw]);
        });
        // A chunk of the vocabulary from column 3; some targets fall outside it.
        yield return new("CrossEntropy", "a vocabulary chunk folded into a running lse", Bf16, (b, t) =>
        {
            var logits = t.Normal([r, v]);
            var targets = t.Ids(r, v + 6);
            var lse = t.Normal([r]);
            var target = t.Poisoned([r]);
            return new(() => b.CrossEntropy(lse, target, logits, targets, 3), [lse, target]);
        });
        yield return new("CrossEntropyBackward", "a vocabulary chunk", Bf16, (b, t) =>
        {
            var (dloss, logits, lse) = (t.Normal([r]), t.Normal([r, v]), t.Uniform([r], 2f, 3f));
            var targets = t.Ids(r, v + 6);
            var dlogits = t.Poisoned([r, v]);
            return new(() => b.CrossEntropyBackward(dlogits, dloss, logits, lse, targets, 3), [dlogits]);
        });
    }

    /// <summary>Attention (grouped-query heads, plain causal and S2-Attn over packed rows), its backward, and the merge of two parts.</summary>
    private static IEnumerable<PrimitiveCase> Attention(CheckShapes s)
    {
        int[] q = [s.Batch, s.Tokens, s.Heads, s.HeadDim], kv = [s.Batch, s.Tokens, s.KvHeads, s.HeadDim], lse = [s.Batch, s.Heads, s.Tokens];
        int[] starts = [.. Enumerable.Range(0, s.Batch).SelectMany(i => new[] { i * s.Tokens, i * s.Tokens + s.Tokens / 3 + 1 })];
        AttentionSpec Spec(CaseTensors t, bool s2) => s2 ? new AttentionSpec { GroupSize = s.Tokens / 4, SequenceStarts = t.Starts(starts, s.Batch * s.Tokens) } : AttentionSpec.Causal;
        foreach (bool s2 in new[] { false, true })
        {
            string variant = s2 ? "S2-Attn G = T/4, two documents a row" : "causal";
            yield return new("AttentionForward", variant, Bf16, (b, t) =>
            {
                var (qt, kt, vt) = (t.Normal(q), t.Normal(kv), t.Normal(kv));
                var (o, l) = (t.Poisoned(q), t.Poisoned(lse));
                var spec = Spec(t, s2);
                return new(() => b.AttentionForward(o, l, qt, kt, vt, spec), [o, l]);
            });
            // o and lse are drawn, not a forward's: the backward's formula holds for any, and the case needs no other primitive.
            yield return new("AttentionBackward", variant + ", with dlse", Bf16, (b, t) =>
            {
                var (qt, kt, vt, o, dout) = (t.Normal(q), t.Normal(kv), t.Normal(kv), t.Normal(q), t.Normal(q));
                var (l, dl) = (t.Uniform(lse, 2f, 3f), t.Normal(lse));
                var (dq, dk, dv) = (t.Poisoned(q), t.Poisoned(kv), t.Poisoned(kv));
                var spec = Spec(t, s2);
                return new(() => b.AttentionBackward(dq, dk, dv, dout, qt, kt, vt, o, l, spec, dl), [dq, dk, dv]);
            });
        }
        yield return new("AttentionMerge", "", Bf16, (b, t) =>
        {
            var (oA, lA, oB, lB) = (t.Normal(q), t.Normal(lse), t.Normal(q), t.Normal(lse));
            var (o, l) = (t.Poisoned(q), t.Poisoned(lse));
            return new(() => b.AttentionMerge(o, l, oA, lA, oB, lB), [o, l]);
        });
        yield return new("AttentionMergeBackward", "with dlse", Bf16, (b, t) =>
        {
            var (dout, dl, oA, lA, oB, lB, o, l) = (t.Normal(q), t.Normal(lse), t.Normal(q), t.Normal(lse), t.Normal(q), t.Normal(lse), t.Normal(q), t.Normal(lse));
            var (doA, dlA, doB, dlB) = (t.Poisoned(q), t.Poisoned(lse), t.Poisoned(q), t.Poisoned(lse));
            return new(() => b.AttentionMergeBackward(doA, dlA, doB, dlB, dout, dl, oA, lA, oB, lB, o, l), [doA, dlA, doB, dlB]);
        });
    }
}
