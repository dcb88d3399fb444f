using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// The vector operations the attention kernel is written in, for TV = Vector512, Vector256 or Vector128
/// of float. The kernel is written once over TV and runs at the widest width the CPU executes natively:
/// .NET runs wider vectors than the hardware has in software, and that made the kernel 10× (AVX2) to
/// 300× (SSE) slower. Every branch tests typeof(TV), which the JIT folds away for each instantiation.
/// </summary>
internal static unsafe class V<TV> where TV : struct
{
    private static bool Is512
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => typeof(TV) == typeof(Vector512<float>);
    }

    private static bool Is256
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => typeof(TV) == typeof(Vector256<float>);
    }

    public static int Count
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Is512 ? 16 : Is256 ? 8 : 4;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load(float* p) => Is512 ? As(Vector512.Load(p)) : Is256 ? As(Vector256.Load(p)) : As(Vector128.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(TV x, float* p)
    {
        if (Is512)
            To512(x).Store(p);
        else if (Is256)
            To256(x).Store(p);
        else
            To128(x).Store(p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Splat(float x) => Is512 ? As(Vector512.Create(x)) : Is256 ? As(Vector256.Create(x)) : As(Vector128.Create(x));

    /// <summary>a·b + c, fused where the CPU has FMA — not emulated where it has not, which costs 300×.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Fma(TV a, TV b, TV c) => Is512 ? As(Vector512.MultiplyAddEstimate(To512(a), To512(b), To512(c)))
        : Is256 ? As(Vector256.MultiplyAddEstimate(To256(a), To256(b), To256(c))) : As(Vector128.MultiplyAddEstimate(To128(a), To128(b), To128(c)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Add(TV a, TV b) => Is512 ? As(To512(a) + To512(b)) : Is256 ? As(To256(a) + To256(b)) : As(To128(a) + To128(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Sub(TV a, TV b) => Is512 ? As(To512(a) - To512(b)) : Is256 ? As(To256(a) - To256(b)) : As(To128(a) - To128(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Mul(TV a, TV b) => Is512 ? As(To512(a) * To512(b)) : Is256 ? As(To256(a) * To256(b)) : As(To128(a) * To128(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Max(TV a, TV b) => Is512 ? As(Vector512.Max(To512(a), To512(b))) : Is256 ? As(Vector256.Max(To256(a), To256(b))) : As(Vector128.Max(To128(a), To128(b)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Round(TV x) => Is512 ? As(Vector512.Round(To512(x))) : Is256 ? As(Vector256.Round(To256(x))) : As(Vector128.Round(To128(x)));

    /// <summary>p·2^n for whole n in [−126, 127]: one vscalefps with AVX-512, else 2^n built in the exponent bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV ScaleByPow2(TV p, TV n) => Is512 && Avx512F.IsSupported ? As(Avx512F.Scale(To512(p), To512(n)))
        : Is512 ? As(To512(p) * Vector512.ShiftLeft(Vector512.ConvertToInt32(To512(n)) + Vector512.Create(127), 23).AsSingle())
        : Is256 ? As(To256(p) * Vector256.ShiftLeft(Vector256.ConvertToInt32(To256(n)) + Vector256.Create(127), 23).AsSingle())
        : As(To128(p) * Vector128.ShiftLeft(Vector128.ConvertToInt32(To128(n)) + Vector128.Create(127), 23).AsSingle());

    /// <summary>value in the lanes where x ≥ floor, 0 in the others.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV ZeroBelow(TV x, TV value, float floor) => Is512 ? As(Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(To512(x), Vector512.Create(floor)), To512(value), default))
        : Is256 ? As(Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(To256(x), Vector256.Create(floor)), To256(value), default))
        : As(Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(To128(x), Vector128.Create(floor)), To128(value), default));

    /// <summary>x with −∞ lanes replaced by 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV FiniteOrZero(TV x) => Is512 ? As(Vector512.ConditionalSelect(Vector512.Equals(To512(x), Vector512.Create(float.NegativeInfinity)), default, To512(x)))
        : Is256 ? As(Vector256.ConditionalSelect(Vector256.Equals(To256(x), Vector256.Create(float.NegativeInfinity)), default, To256(x)))
        : As(Vector128.ConditionalSelect(Vector128.Equals(To128(x), Vector128.Create(float.NegativeInfinity)), default, To128(x)));

    /// <summary>x where key lies in [lo, hi] (lane by lane, lo and hi read at the pointers), else −∞.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV MaskOutside(TV x, int* lo, int* hi, int key)
    {
        if (Is512)
        {
            var k = Vector512.Create(key);
            var seen = Vector512.LessThanOrEqual(Vector512.Load(lo), k) & Vector512.GreaterThanOrEqual(Vector512.Load(hi), k);
            return As(Vector512.ConditionalSelect(seen.AsSingle(), To512(x), Vector512.Create(float.NegativeInfinity)));
        }
        if (Is256)
        {
            var k = Vector256.Create(key);
            var seen = Vector256.LessThanOrEqual(Vector256.Load(lo), k) & Vector256.GreaterThanOrEqual(Vector256.Load(hi), k);
            return As(Vector256.ConditionalSelect(seen.AsSingle(), To256(x), Vector256.Create(float.NegativeInfinity)));
        }
        var k4 = Vector128.Create(key);
        var seen4 = Vector128.LessThanOrEqual(Vector128.Load(lo), k4) & Vector128.GreaterThanOrEqual(Vector128.Load(hi), k4);
        return As(Vector128.ConditionalSelect(seen4.AsSingle(), To128(x), Vector128.Create(float.NegativeInfinity)));
    }

    /// <summary>x in the lanes whose index, counted from lane0, is in [from, to); 0 elsewhere.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV KeepLanes(TV x, int lane0, int from, int to)
    {
        if (Is512)
        {
            var lane = Vector512<int>.Indices + Vector512.Create(lane0);
            return As(To512(x) & (Vector512.GreaterThanOrEqual(lane, Vector512.Create(from)) & Vector512.LessThan(lane, Vector512.Create(to))).AsSingle());
        }
        if (Is256)
        {
            var lane = Vector256<int>.Indices + Vector256.Create(lane0);
            return As(To256(x) & (Vector256.GreaterThanOrEqual(lane, Vector256.Create(from)) & Vector256.LessThan(lane, Vector256.Create(to))).AsSingle());
        }
        var lane4 = Vector128<int>.Indices + Vector128.Create(lane0);
        return As(To128(x) & (Vector128.GreaterThanOrEqual(lane4, Vector128.Create(from)) & Vector128.LessThan(lane4, Vector128.Create(to))).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AllEqual(TV x, float value) => Is512 ? To512(x) == Vector512.Create(value) : Is256 ? To256(x) == Vector256.Create(value) : To128(x) == Vector128.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(TV x) => Is512 ? Vector512.Sum(To512(x)) : Is256 ? Vector256.Sum(To256(x)) : Vector128.Sum(To128(x));

    public static float MaxAcross(TV x)
    {
        Vector128<float> v;
        if (Is512)
        {
            var half = Vector256.Max(To512(x).GetLower(), To512(x).GetUpper());
            v = Vector128.Max(half.GetLower(), half.GetUpper());
        }
        else
        {
            v = Is256 ? Vector128.Max(To256(x).GetLower(), To256(x).GetUpper()) : To128(x);
        }
        return Math.Max(Math.Max(v[0], v[1]), Math.Max(v[2], v[3]));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV As<T>(T x) where T : struct => Unsafe.BitCast<T, TV>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> To512(TV x) => Unsafe.BitCast<TV, Vector512<float>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> To256(TV x) => Unsafe.BitCast<TV, Vector256<float>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> To128(TV x) => Unsafe.BitCast<TV, Vector128<float>>(x);
}
