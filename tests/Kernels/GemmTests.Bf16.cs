using System.Runtime.Intrinsics;
using RawLongLoRA.Kernels.Cpu;
using Xunit;

namespace RawLongLoRA.Tests.Kernels;

/// <summary>
/// GEMM at <see cref="Precision.Bf16"/>: the vdpbf16ps kernel (where the CPU has AVX512-BF16) and the
/// conversion path of every float32 kernel against <see cref="GemmReference"/>, which rounds each operand
/// element with <see cref="Numerics.FloatToBf16"/> and sums in double, so the kernels must round exactly so
/// and sum in float32. The bench's validation uses the same reference.
/// </summary>
public sealed unsafe partial class GemmTests
{
    public static TheoryData<GemmIsa> Bf16Isas()
    {
        var data = new TheoryData<GemmIsa>();
        foreach (var isa in new[] { GemmIsa.Avx512Bf16, GemmIsa.Avx512, GemmIsa.Avx2, GemmIsa.Scalar })
            if (Gemm.IsSupported(isa))
                data.Add(isa);
        return data;
    }

    [Fact]
    public void This_machine_runs_the_vdpbf16ps_kernel_where_cpuinfo_lists_avx512_bf16()
    {
        bool listed = File.Exists("/proc/cpuinfo") && File.ReadAllText("/proc/cpuinfo").Contains("avx512_bf16");
        Assert.Equal(listed && OperatingSystem.IsLinux(), Gemm.IsSupported(GemmIsa.Avx512Bf16));
        if (listed)
            Assert.Equal(GemmIsa.Avx512Bf16, Gemm.IsaFor(Precision.Bf16));
    }

    [Theory]
    [MemberData(nameof(Bf16Isas))]
    public void Bf16_odd_sizes_transposes_and_dtypes_match_the_reference_on_rounded_operands(GemmIsa isa)
    {
        (int M, int N, int K)[] sizes = [(1, 1, 1), (7, 1, 33), (1, 7, 33), (7, 33, 5), (33, 7, 257), (14, 32, 16), (15, 33, 17), (29, 65, 513), (16, 48, 1030)];
        (DType A, DType B)[] types = [(DType.F32, DType.F32), (DType.BF16, DType.BF16), (DType.F16, DType.F32), (DType.F32, DType.BF16), (DType.BF16, DType.F16)];
        foreach (var (m, n, k) in sizes)
            foreach (var (ta, tb) in types)
                for (int t = 0; t < 4; t++)
                    Check(isa, new Case(1, m, n, k) { TypeA = ta, TypeB = tb, TransA = (t & 1) != 0, TransB = (t & 2) != 0 }, Precision.Bf16);
    }

    [Theory]
    [MemberData(nameof(Bf16Isas))]
    public void Bf16_alpha_beta_blocks_batches_and_layouts(GemmIsa isa)
    {
        // (1, 0) and (1, 1) store or add in the bf16 kernel's machine code, the others through its tile; k = 2100
        // crosses two k blocks, whose later ones add into C.
        foreach (var (alpha, beta) in new[] { (1f, 0f), (1f, 1f), (0.5f, -1.5f), (-2f, 1f) })
        {
            Check(isa, new Case(1, 37, 45, 70) { Alpha = alpha, Beta = beta, TransB = true }, Precision.Bf16);
            Check(isa, new Case(1, 300, 70, 600) { Alpha = alpha, Beta = beta, TransA = true }, Precision.Bf16, samples: 4000);
            Check(isa, new Case(1, 60, 70, 2100) { Alpha = alpha, Beta = beta }, Precision.Bf16, samples: 2000);
        }
        Check(isa, new Case(3, 20, 30, 40) { BroadcastA = true, Beta = 0.25f }, Precision.Bf16);
        Check(isa, new Case(6, 60, 50, 120) { BroadcastB = true, TransB = true }, Precision.Bf16);
        Check(isa, new Case(1, 45, 31, 19) { ColMajorC = true, Beta = 2f }, Precision.Bf16);
        Check(isa, new Case(1, 300, 8, 64) { TransB = true }, Precision.Bf16);
        Check(isa, new Case(1, 8, 300, 64) { TransA = true }, Precision.Bf16);
        Check(isa, new Case(1, 3, 8300, 100), Precision.Bf16, samples: 4000);
    }

    [Theory]
    [MemberData(nameof(Bf16Isas))]
    public void Bf16_precision_really_rounds_the_float32_operands(GemmIsa isa)
    {
        // The same product compared with the reference on the unrounded operands must miss it: a GEMM that
        // ignored the precision and summed float32 products would pass the check above only by accident.
        var t = new Case(1, 20, 40, 256);
        var rng = new Random(7);
        var a = Matrix(t.TypeA, 1, t.M, t.K, false, false, rng);
        var b = Matrix(t.TypeB, 1, t.K, t.N, false, false, rng);
        var c = Matrix(DType.F32, 1, t.M, t.N, false, false, rng);
        Gemm.RunWith(isa, 1, t.M, t.N, t.K, 1f, a.Op, b.Op, 0f, c.Op, Precision.Bf16);
        double err = GemmReference.MaxError(1, t.M, t.N, t.K, 1f, a.Op, b.Op, 0f, c.Op, c.Op);
        Assert.True(err > 10 * GemmReference.Tolerance(t.K), $"{isa}: bf16 result within {err:E2} of the float32 product: operands not rounded");
    }

    [Fact]
    public void Vector_rounding_matches_the_scalar_rounding_on_edge_values()
    {
        uint[] bits = [0x3F808000, 0x3F818000, 0x3F807FFF, 0x3F808001, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000,
                       0x7F800001, 0xFFFFFFFF, 0x00000001, 0x80008000, 0x00018000, 0x00000000, 0x80000000];
        var v = Vector512.Create(bits).AsSingle();
        var rounded = GemmPackBf16.Round(v) >> 16;
        for (int i = 0; i < 16; i++)
            Assert.True(Numerics.FloatToBf16(BitConverter.UInt32BitsToSingle(bits[i])) == rounded[i], $"0x{bits[i]:X8}: vector 0x{rounded[i]:X4}");
    }
}
