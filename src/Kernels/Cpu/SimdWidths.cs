using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RawLongLoRA.Kernels.Cpu;

// The widths IVec comes in. Each is a thin wrapper over a .NET vector (or a float), whose types share no
// interface to be generic over; what can be written once over IVec is in Simd.

/// <summary>16 lanes, AVX-512.</summary>
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
    public static V512 Fma(V512 a, V512 b, V512 c) => new(Simd.HasFma ? Vector512.FusedMultiplyAdd(a._v, b._v, c._v) : a._v * b._v + c._v);
    public static V512 Sqrt(V512 x) => new(Vector512.Sqrt(x._v));
    public static V512 Abs(V512 x) => new(Vector512.Abs(x._v));
    public static V512 Max(V512 a, V512 b) => new(Vector512.Max(a._v, b._v));
    public static V512 Min(V512 a, V512 b) => new(Vector512.Min(a._v, b._v));
    public static V512 MaxNative(V512 a, V512 b) => new(Vector512.MaxNative(a._v, b._v));
    public static V512 MinNative(V512 a, V512 b) => new(Vector512.MinNative(a._v, b._v));
    public static V512 Round(V512 x) => new(Vector512.Round(x._v));

    // Tests run V512 where AVX-512 is off, too: then without vscalefps.
    public static V512 ScaleByPow2(V512 x, V512 n) => new(Avx512F.IsSupported ? Avx512F.Scale(x._v, n._v)
        : x._v * Vector512.ShiftLeft(Vector512.ConvertToInt32Native(n._v) + Vector512.Create(127), 23).AsSingle());
    public static V512 Ldexp(V512 x, V512 k) => Avx512F.IsSupported ? new(Avx512F.Scale(x._v, k._v)) : Simd.LdexpInTwoSteps(x, k);
    public static V512 Log(V512 x) => new(Vector512.Log(x._v));
    public static V512 Pow(V512 x, V512 y) => Simd.PowByLane(x, y);
    public static V512 WhereGreater(V512 x, V512 y, V512 v) => new(Vector512.ConditionalSelect(Vector512.GreaterThan(x._v, y._v), v._v, Vector512<float>.Zero));
    public static bool AllEqual(V512 a, V512 b) => a._v == b._v;
    public float Sum() => Vector512.Sum(_v);
    public float MaxAcross() => new V256(Vector256.Max(_v.GetLower(), _v.GetUpper())).MaxAcross();
}

/// <summary>8 lanes, AVX2.</summary>
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
    public static V256 Fma(V256 a, V256 b, V256 c) => new(Simd.HasFma ? Vector256.FusedMultiplyAdd(a._v, b._v, c._v) : a._v * b._v + c._v);
    public static V256 Sqrt(V256 x) => new(Vector256.Sqrt(x._v));
    public static V256 Abs(V256 x) => new(Vector256.Abs(x._v));
    public static V256 Max(V256 a, V256 b) => new(Vector256.Max(a._v, b._v));
    public static V256 Min(V256 a, V256 b) => new(Vector256.Min(a._v, b._v));
    public static V256 MaxNative(V256 a, V256 b) => new(Vector256.MaxNative(a._v, b._v));
    public static V256 MinNative(V256 a, V256 b) => new(Vector256.MinNative(a._v, b._v));
    public static V256 Round(V256 x) => new(Vector256.Round(x._v));
    public static V256 ScaleByPow2(V256 x, V256 n) => new(x._v * Vector256.ShiftLeft(Vector256.ConvertToInt32Native(n._v) + Vector256.Create(127), 23).AsSingle());
    public static V256 Ldexp(V256 x, V256 k) => Simd.LdexpInTwoSteps(x, k);
    public static V256 Log(V256 x) => new(Vector256.Log(x._v));
    public static V256 Pow(V256 x, V256 y) => Simd.PowByLane(x, y);
    public static V256 WhereGreater(V256 x, V256 y, V256 v) => new(Vector256.ConditionalSelect(Vector256.GreaterThan(x._v, y._v), v._v, Vector256<float>.Zero));
    public static bool AllEqual(V256 a, V256 b) => a._v == b._v;
    public float Sum() => Vector256.Sum(_v);
    public float MaxAcross() => new V128(Vector128.Max(_v.GetLower(), _v.GetUpper())).MaxAcross();
}

/// <summary>4 lanes: SSE, for the kernels (attention) that would otherwise run one lane at a time on CPUs without AVX2.</summary>
internal readonly unsafe struct V128(Vector128<float> v) : IVec<V128>
{
    private readonly Vector128<float> _v = v;

    public static int Count => Vector128<float>.Count;
    public static V128 Load(float* p) => new(Vector128.Load(p));
    public static V128 LoadBf16(ushort* p) => new(Vector128.ShiftLeft(Vector128.WidenLower(Vector128.CreateScalar(*(ulong*)p).AsUInt16()), 16).AsSingle());
    public void Store(float* p) => _v.Store(p);

    public void Store(float* p, bool stream)
    {
        if (stream && Sse.IsSupported && ((nuint)p & 15) == 0)
            Sse.StoreAlignedNonTemporal(p, _v);
        else
            _v.Store(p);
    }

    public static V128 Splat(float x) => new(Vector128.Create(x));
    public static V128 operator +(V128 a, V128 b) => new(a._v + b._v);
    public static V128 operator -(V128 a, V128 b) => new(a._v - b._v);
    public static V128 operator *(V128 a, V128 b) => new(a._v * b._v);
    public static V128 operator /(V128 a, V128 b) => new(a._v / b._v);
    public static V128 operator -(V128 a) => new(-a._v);
    public static V128 Fma(V128 a, V128 b, V128 c) => new(Simd.HasFma ? Vector128.FusedMultiplyAdd(a._v, b._v, c._v) : a._v * b._v + c._v);
    public static V128 Sqrt(V128 x) => new(Vector128.Sqrt(x._v));
    public static V128 Abs(V128 x) => new(Vector128.Abs(x._v));
    public static V128 Max(V128 a, V128 b) => new(Vector128.Max(a._v, b._v));
    public static V128 Min(V128 a, V128 b) => new(Vector128.Min(a._v, b._v));
    public static V128 MaxNative(V128 a, V128 b) => new(Vector128.MaxNative(a._v, b._v));
    public static V128 MinNative(V128 a, V128 b) => new(Vector128.MinNative(a._v, b._v));
    public static V128 Round(V128 x) => new(Vector128.Round(x._v));
    public static V128 ScaleByPow2(V128 x, V128 n) => new(x._v * Vector128.ShiftLeft(Vector128.ConvertToInt32Native(n._v) + Vector128.Create(127), 23).AsSingle());
    public static V128 Ldexp(V128 x, V128 k) => Simd.LdexpInTwoSteps(x, k);
    public static V128 Log(V128 x) => new(Vector128.Log(x._v));
    public static V128 Pow(V128 x, V128 y) => Simd.PowByLane(x, y);
    public static V128 WhereGreater(V128 x, V128 y, V128 v) => new(Vector128.ConditionalSelect(Vector128.GreaterThan(x._v, y._v), v._v, Vector128<float>.Zero));
    public static bool AllEqual(V128 a, V128 b) => a._v == b._v;
    public float Sum() => Vector128.Sum(_v);
    public float MaxAcross() => MathF.Max(MathF.Max(_v[0], _v[1]), MathF.Max(_v[2], _v[3]));
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
    public static V1 Fma(V1 a, V1 b, V1 c) => new(Simd.HasFma ? MathF.FusedMultiplyAdd(a._v, b._v, c._v) : a._v * b._v + c._v);
    public static V1 Sqrt(V1 x) => new(MathF.Sqrt(x._v));
    public static V1 Abs(V1 x) => new(MathF.Abs(x._v));
    public static V1 Max(V1 a, V1 b) => new(MathF.Max(a._v, b._v));
    public static V1 Min(V1 a, V1 b) => new(MathF.Min(a._v, b._v));
    public static V1 MaxNative(V1 a, V1 b) => new(a._v > b._v ? a._v : b._v);
    public static V1 MinNative(V1 a, V1 b) => new(a._v < b._v ? a._v : b._v);
    public static V1 Round(V1 x) => new(MathF.Round(x._v));
    public static V1 ScaleByPow2(V1 x, V1 n) => new(x._v * BitConverter.Int32BitsToSingle(((int)n._v + 127) << 23));
    public static V1 Ldexp(V1 x, V1 k) => Simd.LdexpInTwoSteps(x, k);
    public static V1 Log(V1 x) => new(MathF.Log(x._v));
    public static V1 Pow(V1 x, V1 y) => new(MathF.Pow(x._v, y._v));
    public static V1 WhereGreater(V1 x, V1 y, V1 v) => new(x._v > y._v ? v._v : 0);
    public static bool AllEqual(V1 a, V1 b) => a._v == b._v;
    public float Sum() => _v;
    public float MaxAcross() => _v;
}
