using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// exp and log for ILGPU kernels. ILGPU 1.5.3's PTX backend has no exp or log of its own (MathF.Exp needs ILGPU.Algorithms),
/// but it has the hardware's 2^x and log2 (ex2.approx, lg2.approx: about 2⁻²² relative): exp(x) = 2^(x·log2 e) errs by
/// a further |x|·2⁻²⁴·log2 e relative from rounding the product, as CUDA's __expf does. On the CPU accelerator the
/// same formulas run in .NET.
/// </summary>
public static class GpuMath
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2 = 0.693147180559945309f;

    /// <summary>e^x; −∞ gives 0, +∞ gives +∞.</summary>
    public static float Exp(float x) => IntrinsicMath.CPUOnly.Exp2(x * Log2E);

    /// <summary>ln x; 0 gives −∞.</summary>
    public static float Log(float x) => IntrinsicMath.CPUOnly.Log2(x) * Ln2;
}
