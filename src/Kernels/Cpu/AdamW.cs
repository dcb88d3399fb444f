using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// One AdamW step, in torch.optim.AdamW's order of operations so that results match it: decoupled
/// decay p ← p(1 − lr·wd); m ← m + (1−β1)(g − m); v ← β2·v + (1−β2)g²;
/// p ← p − (lr/bc1) · m / (√v/√bc2 + eps). Every lane does the same IEEE operations in the same order
/// (no fused multiply-adds), so the vector loop and its scalar tail agree bit for bit.
/// </summary>
internal static unsafe class AdamW
{
    public static void Step(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep s)
    {
        var k = CheckArgs(param, grad, m, v, s);
        float* p = (float*)param.DataPointer, g = (float*)grad.DataPointer, mp = (float*)m.DataPointer, vp = (float*)v.DataPointer;
        CpuThreads.ForRange(param.Numel, 16384, (lo, hi) =>
        {
            long i = Vector512.IsHardwareAccelerated ? Update<V512>(p, g, mp, vp, k, lo, hi)
                   : Vector256.IsHardwareAccelerated ? Update<V256>(p, g, mp, vp, k, lo, hi) : lo;
            Update<V1>(p, g, mp, vp, k, i, hi);
        });
    }

    /// <summary>
    /// AdamW's argument checks, shared with the GPU backend: four contiguous float32 tensors of one shape, a step from
    /// 1. Returns the step's scalars.
    /// </summary>
    public static Constants CheckArgs(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep s)
    {
        const string op = "adamw";
        foreach (var (t, role) in new[] { (param, "param"), (grad, "grad"), (m, "exp_avg"), (v, "exp_avg_sq") })
        {
            Check.F32(op, t, role);
            Check.Contiguous(op, t, role);
            Check.SameShape(op, t, param);
        }
        if (s.Step < 1)
            throw new ArgumentOutOfRangeException(nameof(s), $"{op}: step counts from 1, got {s.Step}");
        return new Constants(s);
    }

    /// <summary>
    /// The step's scalars, as torch computes them (in double from the Python floats, then float32); a GPU kernel
    /// parameter too.
    /// </summary>
    internal readonly struct Constants(AdamWStep s)
    {
        public readonly float Decay = (float)(1 - s.Lr * s.WeightDecay), StepSize = (float)(s.Lr / (1 - Math.Pow(s.Beta1, s.Step)));
        public readonly float Bc2Sqrt = (float)Math.Sqrt(1 - Math.Pow(s.Beta2, s.Step));
        public readonly float OneMinusBeta1 = (float)(1 - s.Beta1), Beta2 = (float)s.Beta2, OneMinusBeta2 = (float)(1 - s.Beta2), Eps = (float)s.Eps;
    }

    /// <summary>Whole TV vectors of [lo, hi), in place; returns where the rest starts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long Update<TV>(float* p, float* g, float* m, float* v, Constants k, long lo, long hi) where TV : unmanaged, IVec<TV>
    {
        TV decay = TV.Splat(k.Decay), stepSize = TV.Splat(k.StepSize), bc2Sqrt = TV.Splat(k.Bc2Sqrt), eps = TV.Splat(k.Eps);
        TV b2 = TV.Splat(k.Beta2), c1 = TV.Splat(k.OneMinusBeta1), c2 = TV.Splat(k.OneMinusBeta2);
        long i = lo;
        for (; i <= hi - TV.Count; i += TV.Count)
        {
            TV gi = TV.Load(g + i), mi = TV.Load(m + i), vi = TV.Load(v + i);
            mi += c1 * (gi - mi);
            vi = vi * b2 + c2 * gi * gi;
            var pi = TV.Load(p + i) * decay;
            pi -= stepSize * mi / (TV.Sqrt(vi) / bc2Sqrt + eps);
            mi.Store(m + i);
            vi.Store(v + i);
            pi.Store(p + i);
        }
        return i;
    }
}
