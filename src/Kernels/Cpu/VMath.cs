using System.Runtime.CompilerServices;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>Transcendental lane math, inlined into the kernel loops (a call would spill the registers every vector).</summary>
internal static class VMath
{
    // ln 2 split so that k·Ln2Hi is exact (16 significant bits, |k| ≤ 150): x − k·ln2 keeps float precision.
    private const float Ln2Hi = 0.693145751953125f, Ln2Lo = 1.42860677e-6f, Log2E = 1.44269504f, Ln2 = 0.693147181f;

    /// <summary>
    /// e^x within 1 ulp (0.94 at most, checked over every float): x = k·ln2 + r with |r| ≤ ln2/2, e^r by
    /// its Taylor series to r^7 (the next term is below float's precision), times 2^k. Past the float
    /// range it gives +∞ and 0; NaN stays NaN. Every width gives the same bits. About twice the speed of
    /// Vector512.Exp, which evaluates in double.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp<TV>(TV x) where TV : unmanaged, IVec<TV>
    {
        // Keeps k in Ldexp's range; e^89 overflows to +∞ and e^−104 to 0 all the same. The bound comes
        // first so that a NaN x passes through (IEEE Max and Min would too, at four times the instructions).
        var p = ExpOfReduced(TV.MinNative(TV.Splat(89f), TV.MaxNative(TV.Splat(-104f), x)), out var k);
        return TV.Ldexp(p, k);
    }

    /// <summary>
    /// <see cref="Exp"/>, but 0 where x ≤ −86.98 (e^x below 1.7e-38, near float's smallest normal) or is
    /// NaN: for values that go on into many products — attention's probabilities, whose masked scores
    /// are −∞ — where a subnormal operand can slow every one of them. With no subnormal results to reach,
    /// 2^k takes one step where <see cref="IVec{TV}.Ldexp"/> takes two without AVX-512.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV ExpFlushToZero<TV>(TV x) where TV : unmanaged, IVec<TV>
    {
        // Lanes at or below the floor (−∞ too) may compute anything: they are replaced by 0.
        var p = ExpOfReduced(TV.MinNative(TV.Splat(89f), x), out var k);
        // (2p)·2^(k−1): above the floor k − 1 lies in [−126, 127], ScaleByPow2's range, up to e^89's k = 128.
        return TV.WhereGreater(x, TV.Splat(-86.98f), TV.ScaleByPow2(p + p, k - TV.Splat(1f)));
    }

    /// <summary>
    /// <see cref="ExpFlushToZero"/> to 2⁻¹⁷ relative instead of 1 ulp, for values rounded to bf16 next (2⁻⁹): one
    /// constant for ln 2 (its error times |k| ≤ 126 stays below 2.4e-7) and Taylor to r⁵ (|r|⁶/6!·e^|r| ≤ 3.4e-6
    /// for |r| ≤ ln2/2), three FMAs fewer. Every width gives the same bits; 0 where x ≤ −86.98 or NaN, as there.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV ExpFlushToZeroBf16<TV>(TV x) where TV : unmanaged, IVec<TV>
    {
        var c = TV.MinNative(TV.Splat(89f), x);
        var k = TV.Round(c * TV.Splat(Log2E));
        var r = TV.Fma(k, TV.Splat(-Ln2), c);
        var s = TV.Fma(TV.Splat(1f / 120), r, TV.Splat(1f / 24));
        s = TV.Fma(s, r, TV.Splat(1f / 6));
        s = TV.Fma(s, r, TV.Splat(0.5f));
        s = TV.Fma(s, r, TV.Splat(1f));
        var p = TV.Fma(s, r, TV.Splat(1f));
        return TV.WhereGreater(x, TV.Splat(-86.98f), TV.ScaleByPow2(p + p, k - TV.Splat(1f)));
    }

    /// <summary>e^r for x = k·ln2 + r, |r| ≤ ln2/2, and k: e^x = e^r·2^k, for x in [−104, 89] (|k| ≤ 150).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ExpOfReduced<TV>(TV x, out TV k) where TV : unmanaged, IVec<TV>
    {
        k = TV.Round(x * TV.Splat(Log2E));
        var r = TV.Fma(k, TV.Splat(-Ln2Hi), x);
        r = TV.Fma(k, TV.Splat(-Ln2Lo), r);
        // e^r = 1 + r + r²·s.
        var s = TV.Fma(TV.Splat(1f / 5040), r, TV.Splat(1f / 720));
        s = TV.Fma(s, r, TV.Splat(1f / 120));
        s = TV.Fma(s, r, TV.Splat(1f / 24));
        s = TV.Fma(s, r, TV.Splat(1f / 6));
        s = TV.Fma(s, r, TV.Splat(0.5f));
        if (Simd.HasFma)
            return TV.Fma(TV.Fma(s, r, TV.Splat(1f)), r, TV.Splat(1f));
        // Rounded twice, the last product alone would cost a quarter ulp, and 1.2 ulp in all: instead 1 + r
        // is split exactly into hi + lo, and the rest added to lo (0.84 ulp at most).
        var hi = TV.Splat(1f) + r;
        return hi + TV.Fma(r * r, s, r - (hi - TV.Splat(1f)));
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
