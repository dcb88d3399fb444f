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
    [Theory]
    [InlineData(32, 64, 64)]
    [InlineData(32, 7, 40)]
    [InlineData(16, 1, 16)]
    [InlineData(64, 33, 96)]
    public void Along_lines_matches_the_software_packing_bitwise(int w, int kc, int kStride)
    {
        if (!Bf16PanelsAvx512.IsSupported)
            return;
        var src = Values(kc * kStride, w * 1000 + kc);
        AssertSame(w * ((kc + 1) / 2), (s, e) => GemmPackBf16.Panels(s, DType.F32, 1, kStride, w, w, kc, e), (s, a) => Bf16PanelsAvx512.AlongLines(s, kStride, kc, w, a), src);
    }

    [Theory]
    [InlineData(64, 64, 512)]
    [InlineData(16, 7, 16)]
    [InlineData(32, 1, 40)]
    public void Along_lines_of_8_matches_the_software_packing_bitwise(int m, int kc, int kStride)
    {
        if (!Bf16PanelsAvx512.IsSupported)
            return;
        var src = Values(kc * kStride, m * 1000 + kc + 1);
        AssertSame(m * ((kc + 1) / 2), (s, e) => GemmPackBf16.Panels(s, DType.F32, 1, kStride, 8, m, kc, e), (s, a) => Bf16PanelsAvx512.AlongLines8(s, kStride, kc, m, a), src);
    }

    [Theory]
    [InlineData(64, 64, 64)]
    [InlineData(8, 16, 16)]
    [InlineData(24, 48, 520)]
    public void Along_k_matches_the_software_packing_bitwise(int m, int kc, int lineStride)
    {
        if (!Bf16PanelsAvx512.IsSupported)
            return;
        var src = Values(m * lineStride, m * 1000 + kc);
        AssertSame(m * kc / 2, (s, e) => GemmPackBf16.Panels(s, DType.F32, lineStride, 1, 8, m, kc, e), (s, a) => Bf16PanelsAvx512.AlongK(s, lineStride, kc, m, a), src);
    }

    private delegate void Pack(float* src, uint* dst);

    private static void AssertSame(int words, Pack software, Pack instruction, float[] src)
    {
        var expected = new uint[words];
        var actual = Enumerable.Repeat(0xDEADBEEFu, words).ToArray();
        fixed (float* s = src)
        fixed (uint* e = expected, a = actual)
        {
            software(s, e);
            instruction(s, a);
        }
        for (int i = 0; i < words; i++)
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
