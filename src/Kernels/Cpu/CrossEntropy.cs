using System.Numerics.Tensors;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Cross-entropy per row from logits, via the row's log-sum-exp: no probability tensor is stored.
/// The backward recomputes softmax from lse: dlogits = (exp(x − lse) − onehot)·dloss.
/// </summary>
internal static unsafe class CrossEntropy
{
    public static void Forward(Tensor loss, Tensor lse, Tensor logits, Tensor targets, int ignoreIndex)
    {
        const string op = "cross_entropy";
        var (n, v, tg) = Validate(op, logits, targets, ignoreIndex);
        CheckRowVector(op, loss, "loss", n);
        CheckRowVector(op, lse, "lse", n);
        float* xp = (float*)logits.DataPointer, lp = (float*)loss.DataPointer, sp = (float*)lse.DataPointer;
        Rows.For(n, v, (lo, hi) =>
        {
            for (long r = lo; r < hi; r++)
            {
                var xs = new ReadOnlySpan<float>(xp + r * v, v);
                float max = TensorPrimitives.Max(xs);
                double sum = 0;
                for (int i = 0; i < v; i++)
                    sum += MathF.Exp(xs[i] - max);
                float l = max + (float)Math.Log(sum);
                sp[r] = l;
                lp[r] = tg[r] == ignoreIndex ? 0f : l - xs[(int)tg[r]];
            }
        });
    }

    public static void Backward(Tensor dlogits, Tensor dloss, Tensor logits, Tensor lse, Tensor targets, int ignoreIndex)
    {
        const string op = "cross_entropy_backward";
        var (n, v, tg) = Validate(op, logits, targets, ignoreIndex);
        Check.F32(op, dlogits, "dlogits");
        Check.SameShape(op, dlogits, logits);
        Check.Contiguous(op, dlogits, "dlogits");
        CheckRowVector(op, dloss, "dloss", n);
        CheckRowVector(op, lse, "lse", n);
        float* xp = (float*)logits.DataPointer, gp = (float*)dlogits.DataPointer, dl = (float*)dloss.DataPointer, sp = (float*)lse.DataPointer;
        Rows.For(n, v, (lo, hi) =>
        {
            for (long r = lo; r < hi; r++)
            {
                var gs = new Span<float>(gp + r * v, v);
                if (tg[r] == ignoreIndex)
                {
                    gs.Clear();
                    continue;
                }
                TensorPrimitives.Subtract(new ReadOnlySpan<float>(xp + r * v, v), sp[r], gs);
                TensorPrimitives.Exp(gs, gs);
                gs[(int)tg[r]] -= 1f;
                TensorPrimitives.Multiply(gs, dl[r], gs);
            }
        });
    }

    private static (long N, int V, long[] Targets) Validate(string op, Tensor logits, Tensor targets, int ignoreIndex)
    {
        Check.F32(op, logits, "logits");
        Check.Rank(op, logits, "logits [tokens, vocab]", 2);
        Check.Contiguous(op, logits, "logits");
        Check.Index(op, targets, "targets");
        int n = logits.Shape[0], v = logits.Shape[1];
        Check.Shape(op, targets, "targets", n);
        var tg = targets.DType == DType.I64 ? targets.ToArray<long>() : Array.ConvertAll(targets.ToArray<int>(), x => (long)x);
        foreach (long t in tg)
            if (t != ignoreIndex && (t < 0 || t >= v))
                throw Check.Fail(op, $"target {t} is outside the vocabulary of {v} (ignore index {ignoreIndex})", targets, logits);
        return (n, v, tg);
    }

    private static void CheckRowVector(string op, Tensor t, string role, long n)
    {
        Check.F32(op, t, role);
        Check.Contiguous(op, t, role);
        if (t.Numel != n)
            throw Check.Fail(op, $"{role} must have {n} elements", t);
    }
}
