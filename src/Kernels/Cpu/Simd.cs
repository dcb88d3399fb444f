using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RawLongLoRA.Kernels.Cpu;

// Per-lane float32 math shared by the elementwise ops and the row kernels. A kernel body is written
// once, generic over IVec: the JIT specialises it for V512, V256 and V1, so the main loop runs at the
// CPU's widest width and the tail one lane at a time with the same math, hence the same result.
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
    /// line goes to memory without first being read into the cache. See <see cref="Rows.Streams"/>.
    /// </summary>
    void Store(float* p, bool stream);
    static abstract TV Splat(float x);
    static abstract TV operator +(TV a, TV b);
    static abstract TV operator -(TV a, TV b);
    static abstract TV operator *(TV a, TV b);
    static abstract TV operator /(TV a, TV b);
    static abstract TV operator -(TV a);

    /// <summary>a·b + c with one rounding.</summary>
    static abstract TV Fma(TV a, TV b, TV c);
    static abstract TV Sqrt(TV x);
    static abstract TV Abs(TV x);

    /// <summary>IEEE 754-2019 maximum / minimum: NaN in either operand gives NaN.</summary>
    static abstract TV Max(TV a, TV b);
    static abstract TV Min(TV a, TV b);

    /// <summary>The larger of a and b; with a NaN either operand (one instruction, for callers that do not need NaN).</summary>
    static abstract TV MaxNative(TV a, TV b);

    /// <summary>To the nearest integer, ties to even.</summary>
    static abstract TV Round(TV x);

    /// <summary>x·2^k for integral k in [−252, 254], rounded once, overflowing to ±∞ and underflowing to 0 as the product does.</summary>
    static abstract TV Ldexp(TV x, TV k);
    static abstract TV Log(TV x);
    static abstract TV Pow(TV x, TV y);

    /// <summary>v where x &gt; 0, else 0.</summary>
    static abstract TV WherePositive(TV x, TV v);
    float Sum();
    float MaxAcross();
}

internal readonly unsafe struct V512(Vector512<float> v) : IVec<V512>
{
    private readonly Vector512<float> _v = v;

    public static int Count => Vector512<float>.Count;
    public static V512 Load(float* p) => new(Vector512.Load(p));
    public static V512 LoadBf16(ushort* p) => new(Vector512.ShiftLeft(Vector512.WidenLower(Vector256.Load(p).ToVector512Unsafe()), 16).AsSingle());
    public void Store(float* p) => _v.Store(p);

    public void Store(float* p, bool stream)
    {
        if (stream && Avx512F.IsSupported && ((nuint)p & 63) == 0)
            Avx512F.StoreAlignedNonTemporal(p, _v);
        else
            _v.Store(p);
    }

    public static V512 Splat(float x) => new(Vector512.Create(x));
    public static V512 operator +(V512 a, V512 b) => new(a._v + b._v);
    public static V512 operator -(V512 a, V512 b) => new(a._v - b._v);
    public static V512 operator *(V512 a, V512 b) => new(a._v * b._v);
    public static V512 operator /(V512 a, V512 b) => new(a._v / b._v);
    public static V512 operator -(V512 a) => new(-a._v);
    public static V512 Fma(V512 a, V512 b, V512 c) => new(Vector512.FusedMultiplyAdd(a._v, b._v, c._v));
    public static V512 Sqrt(V512 x) => new(Vector512.Sqrt(x._v));
    public static V512 Abs(V512 x) => new(Vector512.Abs(x._v));
    public static V512 Max(V512 a, V512 b) => new(Vector512.Max(a._v, b._v));
    public static V512 Min(V512 a, V512 b) => new(Vector512.Min(a._v, b._v));
    public static V512 MaxNative(V512 a, V512 b) => new(Vector512.MaxNative(a._v, b._v));
    public static V512 Round(V512 x) => new(Vector512.Round(x._v));

    // AVX-512's vscalefps does it in one instruction (V512 runs only where AVX-512 does).
    public static V512 Ldexp(V512 x, V512 k) => new(Avx512F.Scale(x._v, k._v));

    public static V512 Log(V512 x) => new(Vector512.Log(x._v));

    public static V512 Pow(V512 x, V512 y)
    {
        var r = Vector512<float>.Zero;
        for (int i = 0; i < Count; i++)
            r = r.WithElement(i, MathF.Pow(x._v[i], y._v[i]));
        return new(r);
    }

    public static V512 WherePositive(V512 x, V512 v) => new(Vector512.ConditionalSelect(Vector512.GreaterThan(x._v, Vector512<float>.Zero), v._v, Vector512<float>.Zero));
    public float Sum() => Vector512.Sum(_v);
    public float MaxAcross() => new V256(Vector256.Max(_v.GetLower(), _v.GetUpper())).MaxAcross();
}

internal readonly unsafe struct V256(Vector256<float> v) : IVec<V256>
{
    private readonly Vector256<float> _v = v;

    public static int Count => Vector256<float>.Count;
    public static V256 Load(float* p) => new(Vector256.Load(p));
    public static V256 LoadBf16(ushort* p) => new(Vector256.ShiftLeft(Vector256.WidenLower(Vector128.Load(p).ToVector256Unsafe()), 16).AsSingle());
    public void Store(float* p) => _v.Store(p);

    public void Store(float* p, bool stream)
    {
        if (stream && Avx.IsSupported && ((nuint)p & 31) == 0)
            Avx.StoreAlignedNonTemporal(p, _v);
        else
            _v.Store(p);
    }

    public static V256 Splat(float x) => new(Vector256.Create(x));
    public static V256 operator +(V256 a, V256 b) => new(a._v + b._v);
    public static V256 operator -(V256 a, V256 b) => new(a._v - b._v);
    public static V256 operator *(V256 a, V256 b) => new(a._v * b._v);
    public static V256 operator /(V256 a, V256 b) => new(a._v / b._v);
    public static V256 operator -(V256 a) => new(-a._v);
    public static V256 Fma(V256 a, V256 b, V256 c) => new(Vector256.FusedMultiplyAdd(a._v, b._v, c._v));
    public static V256 Sqrt(V256 x) => new(Vector256.Sqrt(x._v));
    public static V256 Abs(V256 x) => new(Vector256.Abs(x._v));
    public static V256 Max(V256 a, V256 b) => new(Vector256.Max(a._v, b._v));
    public static V256 Min(V256 a, V256 b) => new(Vector256.Min(a._v, b._v));
    public static V256 MaxNative(V256 a, V256 b) => new(Vector256.MaxNative(a._v, b._v));
    public static V256 Round(V256 x) => new(Vector256.Round(x._v));

    // In two steps, so that neither power of two leaves float's range.
    public static V256 Ldexp(V256 x, V256 k)
    {
        var ki = Vector256.ConvertToInt32Native(k._v);
        var half = Vector256.ShiftRightArithmetic(ki, 1);
        return new(x._v * Pow2(half) * Pow2(ki - half));
    }

    private static Vector256<float> Pow2(Vector256<int> k) => Vector256.ShiftLeft(k + Vector256.Create(127), 23).AsSingle();

    public static V256 Log(V256 x) => new(Vector256.Log(x._v));

    public static V256 Pow(V256 x, V256 y)
    {
        var r = Vector256<float>.Zero;
        for (int i = 0; i < Count; i++)
            r = r.WithElement(i, MathF.Pow(x._v[i], y._v[i]));
        return new(r);
    }

    public static V256 WherePositive(V256 x, V256 v) => new(Vector256.ConditionalSelect(Vector256.GreaterThan(x._v, Vector256<float>.Zero), v._v, Vector256<float>.Zero));
    public float Sum() => Vector256.Sum(_v);

    public float MaxAcross()
    {
        float m = _v[0];
        for (int i = 1; i < Count; i++)
            m = MathF.Max(m, _v[i]);
        return m;
    }
}

/// <summary>One lane: the tails of the vector loops, strided rows, and CPUs without SIMD.</summary>
internal readonly unsafe struct V1(float v) : IVec<V1>
{
    private readonly float _v = v;

    public float Value => _v;
    public static int Count => 1;
    public static V1 Load(float* p) => new(*p);
    public static V1 LoadBf16(ushort* p) => new(BitConverter.UInt32BitsToSingle((uint)*p << 16));
    public void Store(float* p) => *p = _v;
    public void Store(float* p, bool stream) => *p = _v;
    public static V1 Splat(float x) => new(x);
    public static V1 operator +(V1 a, V1 b) => new(a._v + b._v);
    public static V1 operator -(V1 a, V1 b) => new(a._v - b._v);
    public static V1 operator *(V1 a, V1 b) => new(a._v * b._v);
    public static V1 operator /(V1 a, V1 b) => new(a._v / b._v);
    public static V1 operator -(V1 a) => new(-a._v);
    public static V1 Fma(V1 a, V1 b, V1 c) => new(MathF.FusedMultiplyAdd(a._v, b._v, c._v));
    public static V1 Sqrt(V1 x) => new(MathF.Sqrt(x._v));
    public static V1 Abs(V1 x) => new(MathF.Abs(x._v));
    public static V1 Max(V1 a, V1 b) => new(MathF.Max(a._v, b._v));
    public static V1 Min(V1 a, V1 b) => new(MathF.Min(a._v, b._v));
    public static V1 MaxNative(V1 a, V1 b) => new(a._v > b._v ? a._v : b._v);
    public static V1 Round(V1 x) => new(MathF.Round(x._v));

    // In two steps, as V256 does.
    public static V1 Ldexp(V1 x, V1 k)
    {
        int ki = (int)k._v, half = ki >> 1;
        return new(x._v * Pow2(half) * Pow2(ki - half));
    }

    private static float Pow2(int k) => BitConverter.Int32BitsToSingle((k + 127) << 23);

    public static V1 Log(V1 x) => new(MathF.Log(x._v));
    public static V1 Pow(V1 x, V1 y) => new(MathF.Pow(x._v, y._v));
    public static V1 WherePositive(V1 x, V1 v) => new(x._v > 0 ? v._v : 0);
    public float Sum() => _v;
    public float MaxAcross() => _v;
}
