using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// The 16-bit float formats as ILGPU kernels carry them (ILGPU 1.5.3 has no bfloat16 type): 16-bit words, converted
/// with integer ops, round to nearest even, bit for bit what <see cref="Numerics"/> does on the CPU.
/// </summary>
public static class Half16
{
    /// <summary>bfloat16 bits to float32 (exact).</summary>
    public static float Bf16ToFloat(ushort b) => Interop.IntAsFloat((uint)b << 16);

    /// <summary>float32 to bfloat16 bits, nearest even; NaN stays a quiet NaN with its sign.</summary>
    public static ushort FloatToBf16(float f)
    {
        uint u = Interop.FloatAsInt(f);
        if ((u & 0x7FFFFFFFu) > 0x7F800000u)
            return (ushort)((u >> 16) | 0x40u);
        u += 0x7FFFu + ((u >> 16) & 1u);
        return (ushort)(u >> 16);
    }

    /// <summary>IEEE half bits to float32 (exact, subnormals included).</summary>
    public static float F16ToFloat(ushort h)
    {
        uint sign = (uint)(h & 0x8000) << 16;
        uint exp = (uint)(h >> 10) & 0x1F;
        uint man = (uint)h & 0x3FF;
        if (exp == 0x1F)
            return Interop.IntAsFloat(sign | 0x7F800000u | (man << 13));
        if (exp != 0)
            return Interop.IntAsFloat(sign | ((exp + 112) << 23) | (man << 13));
        // Subnormal: man · 2⁻²⁴, exact in float32.
        float v = man * 5.9604644775390625e-8f;
        return sign != 0 ? -v : v;
    }

    /// <summary>float32 to IEEE half bits, nearest even, overflow to infinity, NaN kept quiet.</summary>
    public static ushort FloatToF16(float f)
    {
        uint u = Interop.FloatAsInt(f);
        uint sign = (u >> 16) & 0x8000u;
        uint a = u & 0x7FFFFFFFu;
        if (a > 0x7F800000u)
            return (ushort)(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
        if (a >= 0x477FF000u) // rounds to 2¹⁶ or more: infinity
            return (ushort)(sign | 0x7C00u);
        if (a < 0x38800000u) // below 2⁻¹⁴: subnormal or zero, in steps of 2⁻²⁴
        {
            if (a < 0x33000000u) // below half the smallest step: rounds to ±0
                return (ushort)sign;
            uint e = a >> 23;
            uint m = (a & 0x7FFFFFu) | 0x800000u;
            int shift = (int)(126 - e); // m · 2^(e−150) in units of 2⁻²⁴
            uint q = m >> shift;
            uint rest = m & ((1u << shift) - 1);
            uint half = 1u << (shift - 1);
            if (rest > half || rest == half && (q & 1) != 0)
                q++;
            return (ushort)(sign | q);
        }
        uint r = a - 0x38000000u; // rebias the exponent by 127 − 15 = 112
        r += 0xFFFu + ((r >> 13) & 1u);
        return (ushort)(sign | (r >> 13));
    }
}
