using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace RawLongLoRA.Kernels.Cpu;

// Per-lane float32 math shared by every CPU kernel but GEMM. A kernel body is written once, generic over
// IVec: the JIT specialises it for each width (SimdWidths.cs), so it runs at the widest width the CPU
// executes natively — .NET runs wider vectors than the hardware has in software, 10× (AVX2) to 300×
// (SSE) slower — and loop tails run one lane at a time (V1) with the same math, hence the same result.
// Kernels mark these loops AggressiveOptimization: unoptimised (tier-0) code would call every IVec
// operator, tens of times slower, for the first calls of a run, which may be on the largest tensors.

/// <summary>A register of Count float32 lanes: the operations the CPU kernels are written in.</summary>
internal unsafe interface IVec<TV> where TV : unmanaged, IVec<TV>
{
    static abstract int Count { get; }
    static abstract TV Load(float* p);

    /// <summary>Count bfloat16 values widened to float32 (exact: bfloat16 is float32's top half).</summary>
    static abstract TV LoadBf16(ushort* p);
    void Store(float* p);

    /// <summary>
    /// With stream, a non-temporal store where p is aligned to the register (a plain one elsewhere): the
    /// line goes to memory without first being read into the cache. See <see cref="Rows.Streams(long)"/>.
    /// </summary>
    void Store(float* p, bool stream);
    static abstract TV Splat(float x);
    static abstract TV operator +(TV a, TV b);
    static abstract TV operator -(TV a, TV b);
    static abstract TV operator *(TV a, TV b);
    static abstract TV operator /(TV a, TV b);
    static abstract TV operator -(TV a);

    /// <summary>
    /// a·b + c, rounded once where the CPU has fused multiply-add (<see cref="Simd.HasFma"/>: every CPU
    /// that runs V256 or V512) and twice where it has not — never emulated, which costs hundreds of
    /// times. Every width makes the same choice, so they still agree bit for bit.
    /// </summary>
    static abstract TV Fma(TV a, TV b, TV c);
    static abstract TV Sqrt(TV x);
    static abstract TV Abs(TV x);

    /// <summary>IEEE 754-2019 maximum / minimum: NaN in either operand gives NaN.</summary>
    static abstract TV Max(TV a, TV b);
    static abstract TV Min(TV a, TV b);

    /// <summary>
    /// The larger / smaller of a and b in one instruction; with a NaN, b — as x86's maxps and minps give it,
    /// and V1 too — so that MaxNative(bound, x) keeps a NaN x.
    /// </summary>
    static abstract TV MaxNative(TV a, TV b);
    static abstract TV MinNative(TV a, TV b);

    /// <summary>To the nearest integer, ties to even.</summary>
    static abstract TV Round(TV x);

    /// <summary>
    /// x·2^n for integral n in [−126, 127], rounded once: one vscalefps with AVX-512, else a product with
    /// 2^n built in the exponent bits.
    /// </summary>
    static abstract TV ScaleByPow2(TV x, TV n);

    /// <summary>
    /// x·2^k for integral k in [−252, 254], rounded once, overflowing to ±∞ and underflowing to 0 as the
    /// product does: one vscalefps with AVX-512, else <see cref="Simd.LdexpInTwoSteps"/>.
    /// </summary>
    static abstract TV Ldexp(TV x, TV k);
    static abstract TV Log(TV x);
    static abstract TV Pow(TV x, TV y);

    /// <summary>v in the lanes where x &gt; y, 0 in the others (a NaN compares false).</summary>
    static abstract TV WhereGreater(TV x, TV y, TV v);

    /// <summary>Whether every lane of a equals b's (a NaN equals nothing).</summary>
    static abstract bool AllEqual(TV a, TV b);
    float Sum();
    float MaxAcross();
}

/// <summary>What the widths share: the CPU's FMA, and the operations they build from IVec's others.</summary>
internal static unsafe class Simd
{
    /// <summary>Whether the CPU fuses multiply-add (x86 FMA3, which .NET enables with AVX2; Arm's AdvSimd).</summary>
    public static bool HasFma
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Fma.IsSupported || AdvSimd.IsSupported;
    }

    /// <summary>
    /// <see cref="IVec{TV}.Ldexp"/> as two <see cref="IVec{TV}.ScaleByPow2"/>, by h = k/2 rounded and by
    /// k − h, each in its range; where x·2^h stays normal (as for e^x's 2^k) only the second step rounds,
    /// so the bits are those of AVX-512's one vscalefps.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV LdexpInTwoSteps<TV>(TV x, TV k) where TV : unmanaged, IVec<TV>
    {
        var half = TV.Round(k * TV.Splat(0.5f));
        return TV.ScaleByPow2(TV.ScaleByPow2(x, half), k - half);
    }

    /// <summary>x^y lane by lane with MathF.Pow: no vector form keeps its special cases (negative x with integral y).</summary>
    public static TV PowByLane<TV>(TV x, TV y) where TV : unmanaged, IVec<TV>
    {
        float* a = stackalloc float[TV.Count], b = stackalloc float[TV.Count];
        x.Store(a);
        y.Store(b);
        for (int i = 0; i < TV.Count; i++)
            a[i] = MathF.Pow(a[i], b[i]);
        return TV.Load(a);
    }
}
