using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Cross-entropy one vocabulary chunk at a time: each chunk of logits [N, C] is folded into a running
/// per-row log-sum-exp, so the full [N × V] logits never have to exist at once. The backward
/// recomputes softmax from the final lse: dlogits = (exp(x − lse) − onehot(target))·dloss.
/// </summary>
internal static unsafe class CrossEntropy
{
    public static void Forward(Tensor lse, Tensor targetLogit, Tensor logits, Tensor targets, int vocabStart)
    {
        var (n, c) = CheckForward(lse, targetLogit, logits, targets);
        var tg = Targets(targets);
        float* xp = (float*)logits.DataPointer, sp = (float*)lse.DataPointer, tp = (float*)targetLogit.DataPointer;
        Rows.For(n, c, (lo, hi) =>
        {
            for (long r = lo; r < hi; r++)
            {
                float* x = xp + r * c;
                float chunkLse = Vector512.IsHardwareAccelerated ? RowLse<V512>(x, c)
                    : Vector256.IsHardwareAccelerated ? RowLse<V256>(x, c) : RowLse<V1>(x, c);
                sp[r] = LogAddExp(sp[r], chunkLse);
                long col = tg[r] - vocabStart;
                if (col >= 0 && col < c)
                    tp[r] = x[col];
            }
        });
    }

    public static void Backward(Tensor dlogits, Tensor dloss, Tensor logits, Tensor lse, Tensor targets, int vocabStart)
    {
        var (n, c) = CheckBackward(dlogits, dloss, logits, lse, targets);
        var tg = Targets(targets);
        float* xp = (float*)logits.DataPointer, gp = (float*)dlogits.DataPointer, dl = (float*)dloss.DataPointer, sp = (float*)lse.DataPointer;
        Rows.For(n, c, (lo, hi) =>
        {
            for (long r = lo; r < hi; r++)
            {
                float* g = gp + r * c, x = xp + r * c;
                if (dl[r] == 0)
                {
                    new Span<float>(g, c).Clear(); // ignored rows: no gradient, and no NaN from an unused lse
                    continue;
                }
                if (Vector512.IsHardwareAccelerated)
                    BackwardRow<V512>(g, x, sp[r], dl[r], c);
                else if (Vector256.IsHardwareAccelerated)
                    BackwardRow<V256>(g, x, sp[r], dl[r], c);
                else
                    BackwardRow<V1>(g, x, sp[r], dl[r], c);
                long col = tg[r] - vocabStart;
                if (col >= 0 && col < c)
                    g[col] -= dl[r];
            }
        });
    }

    /// <summary>log Σ e^x over one row: max first, so no exponential overflows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float RowLse<TV>(float* x, int c) where TV : unmanaged, IVec<TV>
    {
        var vmax = TV.Splat(float.NegativeInfinity);
        int j = 0;
        for (; j <= c - TV.Count; j += TV.Count)
            vmax = TV.MaxNative(vmax, TV.Load(x + j));
        float max = vmax.MaxAcross();
        for (int k = j; k < c; k++)
            max = MathF.Max(max, x[k]);
        var m = TV.Splat(max);
        var vsum = TV.Splat(0f);
        for (j = 0; j <= c - TV.Count; j += TV.Count)
            vsum += VMath.Exp(TV.Load(x + j) - m);
        float sum = vsum.Sum();
        for (int k = j; k < c; k++)
            sum += VMath.Exp(new V1(x[k] - max)).Value;
        return max + MathF.Log(sum);
    }

    /// <summary>g = e^(x − lse) · dloss; the target's −dloss is added by the caller. g may be x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardRow<TV>(float* g, float* x, float lse, float dloss, int c) where TV : unmanaged, IVec<TV>
    {
        var l = TV.Splat(lse);
        var d = TV.Splat(dloss);
        int j = 0;
        for (; j <= c - TV.Count; j += TV.Count)
            (VMath.Exp(TV.Load(x + j) - l) * d).Store(g + j);
        for (; j < c; j++)
            g[j] = VMath.Exp(new V1(x[j] - lse)).Value * dloss;
    }

    /// <summary>log(e^a + e^b), exact when a is −∞ (the first chunk).</summary>
    private static float LogAddExp(float a, float b)
    {
        float hi = MathF.Max(a, b), lo = MathF.Min(a, b);
        return float.IsNegativeInfinity(lo) ? hi : hi + MathF.Log(1f + MathF.Exp(lo - hi));
    }

    /// <summary>
    /// The forward's argument checks (every backend's): logits [N, C] float32 contiguous, targets [N] I32/I64 (any
    /// value: one outside the chunk, an ignore index included, has no column here), lse and targetLogit [N]. Returns [N, C].
    /// </summary>
    public static (long N, int C) CheckForward(Tensor lse, Tensor targetLogit, Tensor logits, Tensor targets)
    {
        const string op = "cross_entropy";
        var (n, c) = Validate(op, logits, targets);
        CheckRowVector(op, lse, "lse", n);
        CheckRowVector(op, targetLogit, "target_logit", n);
        return (n, c);
    }

    /// <summary>The backward's argument checks (every backend's): dlogits like logits, dloss and lse [N]. Returns [N, C].</summary>
    public static (long N, int C) CheckBackward(Tensor dlogits, Tensor dloss, Tensor logits, Tensor lse, Tensor targets)
    {
        const string op = "cross_entropy_backward";
        var (n, c) = Validate(op, logits, targets);
        Check.F32(op, dlogits, "dlogits");
        Check.SameShape(op, dlogits, logits);
        Check.Contiguous(op, dlogits, "dlogits");
        CheckRowVector(op, dloss, "dloss", n);
        CheckRowVector(op, lse, "lse", n);
        return (n, c);
    }

    private static (long N, int C) Validate(string op, Tensor logits, Tensor targets)
    {
        Check.F32(op, logits, "logits");
        Check.Rank(op, logits, "logits [tokens, vocab chunk]", 2);
        Check.Contiguous(op, logits, "logits");
        Check.Index(op, targets, "targets");
        int n = logits.Shape[0];
        Check.Shape(op, targets, "targets", n);
        return (n, logits.Shape[1]);
    }

    private static long[] Targets(Tensor targets)
        => targets.DType == DType.I64 ? targets.ToArray<long>() : Array.ConvertAll(targets.ToArray<int>(), x => (long)x);

    private static void CheckRowVector(string op, Tensor t, string role, long n)
    {
        Check.F32(op, t, role);
        Check.Contiguous(op, t, role);
        if (t.Numel != n)
            throw Check.Fail(op, $"{role} must have {n} elements", t);
    }
}
