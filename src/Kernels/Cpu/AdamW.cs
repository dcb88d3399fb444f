namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// One AdamW step, in torch.optim.AdamW's order of operations so that results match it: decoupled
/// decay p ← p(1 − lr·wd); m ← m + (1−β1)(g − m); v ← β2·v + (1−β2)g²;
/// p ← p − (lr/bc1) · m / (√v/√bc2 + eps).
/// </summary>
internal static unsafe class AdamW
{
    public static void Step(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep s)
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
        float* p = (float*)param.DataPointer, g = (float*)grad.DataPointer, mp = (float*)m.DataPointer, vp = (float*)v.DataPointer;
        float decay = 1f - s.Lr * s.WeightDecay;
        double bc1 = 1 - Math.Pow(s.Beta1, s.Step), bc2 = 1 - Math.Pow(s.Beta2, s.Step);
        float stepSize = (float)(s.Lr / bc1), bc2Sqrt = (float)Math.Sqrt(bc2);
        float b1 = s.Beta1, b2 = s.Beta2, eps = s.Eps;
        CpuThreads.ForRange(param.Numel, 16384, (lo, hi) =>
        {
            for (long i = lo; i < hi; i++)
            {
                float gi = g[i];
                p[i] *= decay;
                mp[i] += (1f - b1) * (gi - mp[i]);
                vp[i] = vp[i] * b2 + (1f - b2) * gi * gi;
                p[i] -= stepSize * mp[i] / (MathF.Sqrt(vp[i]) / bc2Sqrt + eps);
            }
        });
    }
}
