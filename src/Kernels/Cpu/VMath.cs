using System.Runtime.CompilerServices;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>Transcendental lane math, inlined into the kernel loops (a call would spill the registers every vector).</summary>
internal static class VMath
{
    // ln 2 split so that k·Ln2Hi is exact (16 significant bits, |k| ≤ 150): x − k·ln2 keeps float precision.
    private const float Ln2Hi = 0.693145751953125f, Ln2Lo = 1.42860677e-6f, Log2E = 1.44269504f;

    /// <summary>
    /// e^x within 1 ulp: x = k·ln2 + r with |r| ≤ ln2/2, e^r by its Taylor series to r^7 (the next term is
    /// below float's precision), times 2^k. Past the float range it gives +∞ and 0; NaN stays NaN. Every
    /// width gives the same bits. About twice the speed of Vector512.Exp, which evaluates in double.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp<TV>(TV x) where TV : unmanaged, IVec<TV>
    {
        // Keeps k in Ldexp's range; e^89 overflows to +∞ and e^−104 to 0 all the same.
        x = TV.Min(TV.Max(x, TV.Splat(-104f)), TV.Splat(89f));
        var k = TV.Round(x * TV.Splat(Log2E));
        var r = TV.Fma(k, TV.Splat(-Ln2Hi), x);
        r = TV.Fma(k, TV.Splat(-Ln2Lo), r);
        var p = TV.Fma(TV.Splat(1f / 5040), r, TV.Splat(1f / 720));
        p = TV.Fma(p, r, TV.Splat(1f / 120));
        p = TV.Fma(p, r, TV.Splat(1f / 24));
        p = TV.Fma(p, r, TV.Splat(1f / 6));
        p = TV.Fma(p, r, TV.Splat(0.5f));
        p = TV.Fma(p, r, TV.Splat(1f));
        p = TV.Fma(p, r, TV.Splat(1f));
        return TV.Ldexp(p, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Sigmoid<TV>(TV x) where TV : unmanaged, IVec<TV> => TV.Splat(1f) / (TV.Splat(1f) + Exp(-x));

    /// <summary>tanh(x) = 1 − 2 / (e^{2x} + 1): saturates to ±1 without overflow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Tanh<TV>(TV x) where TV : unmanaged, IVec<TV> => TV.Splat(1f) - TV.Splat(2f) / (Exp(x + x) + TV.Splat(1f));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV SiluGrad<TV>(TV x) where TV : unmanaged, IVec<TV> => SiluGrad(x, Sigmoid(x));

    /// <summary>d/dx x·σ(x) = σ(x)(1 + x(1 − σ(x))), given s = σ(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV SiluGrad<TV>(TV x, TV s) where TV : unmanaged, IVec<TV> => s * (TV.Splat(1f) + x * (TV.Splat(1f) - s));
}
