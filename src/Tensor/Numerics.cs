using System.Runtime.CompilerServices;

namespace RawLongLoRA;

/// <summary>Scalar conversions between float32 and the 16-bit float formats, round to nearest even.</summary>
public static class Numerics
{
    /// <summary>float32 to bfloat16 bits, rounding to nearest even (NaN stays a quiet NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FloatToBf16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7FFFFFFF) > 0x7F800000)
            return (ushort)((u >> 16) | 0x40); // quiet NaN, sign kept
        u += 0x7FFF + ((u >> 16) & 1);
        return (ushort)(u >> 16);
    }

    /// <summary>bfloat16 bits to float32 (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Bf16ToFloat(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    /// <summary>float32 to IEEE half bits, rounding to nearest even.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FloatToF16(float f) => BitConverter.HalfToUInt16Bits((Half)f);

    /// <summary>IEEE half bits to float32 (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float F16ToFloat(ushort h) => (float)BitConverter.UInt16BitsToHalf(h);
}
