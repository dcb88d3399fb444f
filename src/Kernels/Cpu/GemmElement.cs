using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Reads operand elements as float32: one at a time, or 8 contiguous ones (AVX2). Structs, so that
/// the packing code generic over them is compiled per dtype with the reads inlined.
/// </summary>
internal unsafe interface IGemmElement
{
    static abstract float Load(void* p, long i);
    static abstract Vector256<float> Load8(void* p, long i);
}

internal readonly unsafe struct F32Element : IGemmElement
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(void* p, long i) => ((float*)p)[i];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(void* p, long i) => Vector256.Load((float*)p + i);
}

internal readonly unsafe struct Bf16Element : IGemmElement
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(void* p, long i) => Numerics.Bf16ToFloat(((ushort*)p)[i]);

    /// <summary>bfloat16 is the top half of a float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(void* p, long i) =>
        Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((ushort*)p + i), 16).AsSingle();
}

internal readonly unsafe struct F16Element : IGemmElement
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(void* p, long i) => Numerics.F16ToFloat(((ushort*)p)[i]);

    /// <summary>
    /// .NET exposes no F16C, so: move exponent and mantissa into float position and rescale by 2^112
    /// (the bias difference), which is exact for normals and subnormals; Inf/NaN get the float
    /// all-ones exponent instead; then the sign goes back on.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(void* p, long i)
    {
        var h = Avx2.ConvertToVector256Int32((ushort*)p + i).AsUInt32();
        var magnitude = h & Vector256.Create(0x7FFFu);
        var shifted = magnitude << 13;
        var finite = shifted.AsSingle() * Vector256.Create(BitConverter.UInt32BitsToSingle(0x77800000u));
        var special = (shifted | Vector256.Create(0x7F800000u)).AsSingle();
        var isSpecial = Vector256.GreaterThanOrEqual(magnitude, Vector256.Create(0x7C00u)).AsSingle();
        var sign = ((h & Vector256.Create(0x8000u)) << 16).AsSingle();
        return Vector256.ConditionalSelect(isSpecial, special, finite) | sign;
    }
}

/// <summary>
/// Another element type's values rounded to bfloat16 (nearest even) and widened back: the bf16 precision of
/// <see cref="Gemm"/> on CPUs without AVX512-BF16, so its products equal the bf16 kernel's up to summation order.
/// </summary>
internal readonly unsafe struct Bf16Rounded<TE> : IGemmElement where TE : struct, IGemmElement
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(void* p, long i) => Numerics.Bf16ToFloat(Numerics.FloatToBf16(TE.Load(p, i)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(void* p, long i)
    {
        var u = TE.Load8(p, i).AsUInt32();
        var rounded = (u + Vector256.Create(0x7FFFu) + ((u >> 16) & Vector256<uint>.One)) & Vector256.Create(0xFFFF0000u);
        var nan = Vector256.GreaterThan(u & Vector256.Create(0x7FFFFFFFu), Vector256.Create(0x7F800000u));
        return Vector256.ConditionalSelect(nan, u | Vector256.Create(0x00400000u), rounded).AsSingle();
    }
}
