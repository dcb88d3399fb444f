using System.Numerics.Tensors;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Cross-entropy one vocabulary chunk at a time: each chunk of logits [N, C] is folded into a running
/// per-row log-sum-exp, so the full [N × V] logits never have to exist at once. The backward
/// recomputes softmax from the final lse: dlogits = (exp(x − lse) − onehot(target))·dloss.
/// </summary>
internal static unsafe class CrossEntropy
{
    private const int Block = 1024;

    public static void Forward(Tensor lse, Tensor targetLogit, Tensor logits, Tensor targets, int vocabStart)
    {
        const string op = "cross_entropy";
        var (n, c, tg) = Validate(op, logits, targets);
        CheckRowVector(op, lse, "lse", n);
        CheckRowVector(op, targetLogit, "target_logit", n);
        float* xp = (float*)logits.DataPointer, sp = (float*)lse.DataPointer, tp = (float*)targetLogit.DataPointer;
        Rows.For(n, c, (lo, hi) =>
        {
            Span<float> tmp = stackalloc float[Block];
            for (long r = lo; r < hi; r++)
            {
                var xs = new ReadOnlySpan<float>(xp + r * c, c);
                float max = TensorPrimitives.Max(xs);
                float sum = 0;
                for (int i = 0; i < c; i += Block)
                {
                    var part = tmp[..Math.Min(Block, c - i)];
                    TensorPrimitives.Subtract(xs.Slice(i, part.Length), max, part);
                    TensorPrimitives.Exp(part, part);
                    sum += TensorPrimitives.Sum<float>(part);
                }
                sp[r] = LogAddExp(sp[r], max + MathF.Log(sum));
                long col = tg[r] - vocabStart;
                if (col >= 0 && col < c)
                    tp[r] = xs[(int)col];
            }
        });
    }

    public static void Backward(Tensor dlogits, Tensor dloss, Tensor logits, Tensor lse, Tensor targets, int vocabStart)
    {
        const string op = "cross_entropy_backward";
        var (n, c, tg) = Validate(op, logits, targets);
        Check.F32(op, dlogits, "dlogits");
        Check.SameShape(op, dlogits, logits);
        Check.Contiguous(op, dlogits, "dlogits");
        CheckRowVector(op, dloss, "dloss", n);
        CheckRowVector(op, lse, "lse", n);
        float* xp = (float*)logits.DataPointer, gp = (float*)dlogits.DataPointer, dl = (float*)dloss.DataPointer, sp = (float*)lse.DataPointer;
        Rows.For(n, c, (lo, hi) =>
        {
            for (long r = lo; r < hi; r++)
            {
                var gs = new Span<float>(gp + r * c, c);
                if (dl[r] == 0)
                {
                    gs.Clear(); // ignored rows: no gradient, and no NaN from an unused lse
                    continue;
                }
                TensorPrimitives.Subtract(new ReadOnlySpan<float>(xp + r * c, c), sp[r], gs);
                TensorPrimitives.Exp(gs, gs);
                long col = tg[r] - vocabStart;
                if (col >= 0 && col < c)
                    gs[(int)col] -= 1f;
                TensorPrimitives.Multiply(gs, dl[r], gs);
            }
        });
    }

    /// <summary>log(e^a + e^b), exact when a is −∞ (the first chunk).</summary>
    private static float LogAddExp(float a, float b)
    {
        float hi = MathF.Max(a, b), lo = MathF.Min(a, b);
        return float.IsNegativeInfinity(lo) ? hi : hi + MathF.Log(1f + MathF.Exp(lo - hi));
    }

    private static (long N, int C, long[] Targets) Validate(string op, Tensor logits, Tensor targets)
    {
        Check.F32(op, logits, "logits");
        Check.Rank(op, logits, "logits [tokens, vocab chunk]", 2);
        Check.Contiguous(op, logits, "logits");
        Check.Index(op, targets, "targets");
        int n = logits.Shape[0];
        Check.Shape(op, targets, "targets", n);
        var tg = targets.DType == DType.I64 ? targets.ToArray<long>() : Array.ConvertAll(targets.ToArray<int>(), x => (long)x);
        return (n, logits.Shape[1], tg);
    }

    private static void CheckRowVector(string op, Tensor t, string role, long n)
    {
        Check.F32(op, t, role);
        Check.Contiguous(op, t, role);
        if (t.Numel != n)
            throw Check.Fail(op, $"{role} must have {n} elements", t);
    }
}
