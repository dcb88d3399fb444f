using ILGPU;
using CpuAdamW = RawLongLoRA.Kernels.Cpu.AdamW;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>The kernel of AdamW: one thread per parameter, the CPU's IEEE operations in the CPU's order (Cpu/AdamW.cs).</summary>
internal static class AdamWKernels
{
    /// <summary>One AdamW step of element i, in place on p, m and v.</summary>
    [GpuKernel]
    public static void Step(Index1D i, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, CpuAdamW.Constants k)
    {
        float gi = g[i], mi = m[i], vi = v[i];
        mi += k.OneMinusBeta1 * (gi - mi);
        vi = vi * k.Beta2 + k.OneMinusBeta2 * gi * gi;
        float pi = p[i] * k.Decay;
        pi -= k.StepSize * mi / (MathF.Sqrt(vi) / k.Bc2Sqrt + k.Eps);
        m[i] = mi;
        v[i] = vi;
        p[i] = pi;
    }
}
