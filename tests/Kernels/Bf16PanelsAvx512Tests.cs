using RawLongLoRA.Kernels.Cpu;
using Xunit;

namespace RawLongLoRA.Tests.Kernels;

/// <summary>
/// The vcvtne2ps2bf16 pair panels (attention's P, dS and packed operands) against <see cref="GemmPackBf16.Panels"/>, the software
/// rounding: bitwise, ties, NaN, infinities and overflow included, for even and odd kc, strided rows; subnormal inputs
/// become zero of their sign, the one documented difference.
/// </summary>
public sealed unsafe class Bf16PanelsAvx512Tests
{
    /// <summary>Panels of w lines adjacent in memory (AlongLines), of 8 such lines (AlongLines8), of 8 and of 32 lines contiguous along k (AlongK, AlongK32).</summary>
    public enum Kind { Lines, Lines8, AlongK, AlongK32 }

    /// <summary>Lines, kc and the stride between lines or k steps: even and odd kc, strides past the panel.</summary>
    public static TheoryData<Kind, int, int, int> Cases()
    {
        var data = new TheoryData<Kind, int, int, int>();
        (Kind, int, int, int)[] cases =
        [
            (Kind.Lines, 32, 64, 64), (Kind.Lines, 32, 7, 40), (Kind.Lines, 16, 1, 16), (Kind.Lines, 64, 33, 96),
            (Kind.Lines8, 64, 64, 512), (Kind.Lines8, 16, 7, 16), (Kind.Lines8, 32, 1, 40),
            (Kind.AlongK, 64, 64, 64), (Kind.AlongK, 8, 16, 16), (Kind.AlongK, 24, 48, 520),
            (Kind.AlongK32, 64, 64, 512), (Kind.AlongK32, 32, 16, 16), (Kind.AlongK32, 96, 48, 100),
        ];
        foreach (var (kind, lines, kc, stride) in cases)
            data.Add(kind, lines, kc, stride);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_the_software_packing_bitwise(Kind kind, int lines, int kc, int stride)
    {
        if (!Bf16PanelsAvx512.IsSupported)
            return;
        bool alongK = kind is Kind.AlongK or Kind.AlongK32;
        var src = Values(alongK ? lines * stride : kc * stride, lines * 1000 + kc);
        int w = kind switch { Kind.Lines => lines, Kind.AlongK32 => 32, _ => 8 };
        var (lineStride, kStride) = alongK ? (stride, 1) : (1, stride);
        var expected = new uint[lines * ((kc + 1) / 2)];
        var actual = Enumerable.Repeat(0xDEADBEEFu, expected.Length).ToArray();
        fixed (float* s = src)
        fixed (uint* e = expected, a = actual)
        {
            GemmPackBf16.Panels(s, DType.F32, lineStride, kStride, w, lines, kc, e);
            if (kind == Kind.Lines)
                Bf16PanelsAvx512.AlongLines(s, stride, kc, lines, a);
            else if (kind == Kind.Lines8)
                Bf16PanelsAvx512.AlongLines8(s, stride, kc, lines, a);
            else if (kind == Kind.AlongK)
                Bf16PanelsAvx512.AlongK(s, stride, kc, lines, a);
            else
                Bf16PanelsAvx512.AlongK32(s, stride, kc, lines, a);
        }
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i] == actual[i], $"word {i}: 0x{actual[i]:X8}, software 0x{expected[i]:X8}");
    }

    /// <summary>Normal floats of every scale, with rounding ties, NaNs, infinities and float's largest and smallest normals scattered in.</summary>
    private static float[] Values(int n, int seed)
    {
        var rng = new Random(seed);
        var src = new float[n];
        for (int i = 0; i < src.Length; i++)
            src[i] = (float)(rng.NextDouble() * 8 - 4) * MathF.Pow(2, rng.Next(-60, 60));
        uint[] specials = [0x3F808000, 0x3F818000, 0x3F807FFF, 0x3F808001, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000,
                           0x7FC00000, 0x7F800001, 0xFFFFFFFF, 0x00000000, 0x80000000, 0x00800000, 0x80800000];
        foreach (uint bits in specials)
            src[rng.Next(src.Length)] = BitConverter.UInt32BitsToSingle(bits);
        return src;
    }

    [Fact]
    public void Subnormal_inputs_become_signed_zeros()
    {
        if (!Bf16PanelsAvx512.IsSupported)
            return;
        var src = new float[2 * 16];
        for (int i = 0; i < 16; i++)
        {
            src[i] = BitConverter.UInt32BitsToSingle(0x00400000u + (uint)i * 0x1000);
            src[16 + i] = -src[i];
        }
        var dst = new uint[16];
        fixed (float* s = src)
        fixed (uint* d = dst)
            Bf16PanelsAvx512.AlongLines(s, 16, 2, 16, d);
        Assert.All(dst, word => Assert.Equal(0x80000000u, word));
    }
}
