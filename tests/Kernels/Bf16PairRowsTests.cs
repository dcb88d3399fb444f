using RawLongLoRA.Kernels.Cpu;
using Xunit;

namespace RawLongLoRA.Tests.Kernels;

/// <summary>
/// The vcvtne2ps2bf16 pair panel rows (attention's P and dS) against <see cref="GemmPackBf16.Panels"/>, the software
/// rounding: bitwise, ties, NaN, infinities and overflow included, for even and odd kc, strided rows; subnormal inputs
/// become zero of their sign, the one documented difference.
/// </summary>
public sealed unsafe class Bf16PairRowsTests
{
    [Theory]
    [InlineData(32, 64, 64)]
    [InlineData(32, 7, 40)]
    [InlineData(16, 1, 16)]
    [InlineData(64, 33, 96)]
    public void Matches_the_software_packing_bitwise(int w, int kc, int kStride)
    {
        if (!Bf16PairRowsAvx512.IsSupported)
            return;
        var rng = new Random(w * 1000 + kc);
        var src = new float[kc * kStride];
        for (int i = 0; i < src.Length; i++)
            src[i] = (float)(rng.NextDouble() * 8 - 4) * MathF.Pow(2, rng.Next(-60, 60));
        uint[] specials = [0x3F808000, 0x3F818000, 0x3F807FFF, 0x3F808001, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000,
                           0x7FC00000, 0x7F800001, 0xFFFFFFFF, 0x00000000, 0x80000000, 0x00800000, 0x80800000];
        for (int i = 0; i < specials.Length; i++)
            src[rng.Next(src.Length)] = BitConverter.UInt32BitsToSingle(specials[i]);
        int words = w * ((kc + 1) / 2);
        var expected = new uint[words];
        var actual = Enumerable.Repeat(0xDEADBEEFu, words).ToArray();
        fixed (float* s = src)
        fixed (uint* e = expected, a = actual)
        {
            GemmPackBf16.Panels(s, DType.F32, 1, kStride, w, w, kc, e);
            Bf16PairRowsAvx512.Run(s, kStride, kc, w, a);
        }
        for (int i = 0; i < words; i++)
            Assert.True(expected[i] == actual[i], $"word {i}: 0x{actual[i]:X8}, software 0x{expected[i]:X8}");
    }

    [Fact]
    public void Subnormal_inputs_become_signed_zeros()
    {
        if (!Bf16PairRowsAvx512.IsSupported)
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
            Bf16PairRowsAvx512.Run(s, 16, 2, 16, d);
        Assert.All(dst, word => Assert.Equal(0x80000000u, word));
    }
}
