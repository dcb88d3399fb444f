using RawLongLoRA.Kernels.Cpu;
using RawLongLoRA.Kernels.Gpu;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>
/// Gemm on the ILGPU backend (the tiled kernel) against the CPU backend's: odd sizes around the 16 × 16 tiles (4 × 4
/// threads of 4 × 4 sums) of the CPU accelerator's 16-thread groups, transposed / padded / stepped operands, batches with broadcast, alpha and beta,
/// BF16/F16 operands at float32 and under Autocast bf16, beta = 0 on a NaN-poisoned C, and bad input. Each element of
/// the two results may differ by what two float32 sums of k products in different orders can: twice
/// <see cref="GemmReference.Tolerance"/> of that element's scale |alpha|·Σ|a||b| + |beta·c|.
/// </summary>
public sealed class GpuGemmTests
{
    /// <summary>A second CPU accelerator with 64-thread groups of warps of 8: 8 × 8 threads on 32 × 32 tiles, another warp size.</summary>
    private static readonly Lazy<IlgpuBackend> Wide = new(() => IlgpuDevice.Another(64, warpSize: 8, warpsPerGroup: 8, multiprocessors: 1));

    [Theory]
    [InlineData(1, 1, 1, View.Contiguous, View.Contiguous, View.Contiguous, 1f, 0f)]
    [InlineData(3, 5, 17, View.Transposed, View.Contiguous, View.Padded, 1f, 0f)]
    [InlineData(17, 3, 33, View.Contiguous, View.Transposed, View.Stepped, 0.5f, -1.5f)]
    [InlineData(33, 17, 3, View.Padded, View.Stepped, View.Transposed, -2f, 1f)]
    [InlineData(5, 3, 0, View.Contiguous, View.Contiguous, View.Padded, 1f, 0.5f)]
    public void OddSizesAndViewsMatchTheCpu(int m, int n, int k, View va, View vb, View vc, float alpha, float beta)
    {
        using var scope = new DisposeScope();
        var rng = new Random(m * 1000 + n * 10 + k);
        var a = Operand(rng, [m, k], DType.F32, va);
        var b = Operand(rng, [k, n], DType.F32, vb);
        Compare(C(rng, [m, n], vc, beta), a, b, alpha, beta, Precision.F32);
    }

    [Fact]
    public void AlphaZeroReadsNeitherOperand()
    {
        using var scope = new DisposeScope();
        var rng = new Random(7);
        // NaN operands: a kernel that read them would turn beta·c into NaN.
        Compare(C(rng, [5, 3], View.Padded, 2f), Output([5, 13], DType.F32, View.Stepped), Output([13, 3], DType.F32, View.Transposed), 0f, 2f, Precision.F32);
    }

    [Theory]
    [InlineData(new[] { 2, 3, 5 }, new[] { 2, 3, 17 }, new[] { 1, 17, 5 }, View.Transposed, View.Padded, 1f, 0f)]
    [InlineData(new[] { 3, 5, 3 }, new[] { 5, 13 }, new[] { 3, 13, 3 }, View.Contiguous, View.Transposed, 1f, 0.5f)]
    [InlineData(new[] { 2, 1, 4 }, new[] { 1, 1, 8 }, new[] { 2, 8, 4 }, View.Stepped, View.Reversed, -1f, 0f)]
    public void BatchesWithBroadcastMatchTheCpu(int[] cShape, int[] aShape, int[] bShape, View va, View vb, float alpha, float beta)
    {
        using var scope = new DisposeScope();
        var rng = new Random(cShape.Sum() + aShape.Sum());
        Compare(C(rng, cShape, View.Padded, beta), Operand(rng, aShape, DType.F32, va), Operand(rng, bShape, DType.F32, vb), alpha, beta, Precision.F32);
    }

    [Fact]
    public void AStrideZeroBatchBroadcastsOneMatrix()
    {
        using var scope = new DisposeScope();
        var rng = new Random(3);
        var a = Expanded(Uniform(rng, 3 * 8, -1, 1), [1, 3, 8], [2, 3, 8]);
        Compare(C(rng, [2, 3, 5], View.Contiguous, 0f), a, Operand(rng, [2, 8, 5], DType.F32, View.Padded), 1f, 0f, Precision.F32);
    }

    [Theory]
    [InlineData(DType.BF16, DType.BF16, false)]
    [InlineData(DType.F16, DType.F32, false)]
    [InlineData(DType.F32, DType.BF16, false)]
    [InlineData(DType.F32, DType.F32, true)]
    [InlineData(DType.BF16, DType.F16, true)]
    [InlineData(DType.F16, DType.F32, true)]
    public void HalfOperandsAndAutocastBf16MatchTheCpu(DType ta, DType tb, bool bf16)
    {
        using var scope = new DisposeScope();
        var rng = new Random((int)ta * 10 + (int)tb + (bf16 ? 100 : 0));
        var a = Operand(rng, [2, 5, 17], ta, View.Transposed);
        var b = Operand(rng, [2, 17, 14], tb, View.Stepped);
        // At bf16 the float32 and float16 operands lose bits the CPU drops too; a kernel that kept them is off by ~2⁻⁹.
        Compare(C(rng, [2, 5, 14], View.Padded, 0.25f), a, b, 1.5f, 0.25f, bf16 ? Precision.Bf16 : Precision.F32);
    }

    [Theory]
    [InlineData(16, 4)]
    [InlineData(32, 4)]
    [InlineData(64, 8)]
    [InlineData(1024, 16)]
    public void ThreadsAlongATileEdgeAreTheLargestSquareInAGroupUpTo256(int maxThreads, int side) => Assert.Equal(side, TiledGemm.Side(maxThreads));

    [Fact]
    public void GroupsOf64OnWarpsOf8MatchTheCpu()
    {
        using var scope = new DisposeScope();
        var device = Wide.Value.Device;
        var rng = new Random(88);
        var a = Operand(rng, [17, 20], DType.BF16, View.Transposed);
        var b = Operand(rng, [20, 33], DType.F32, View.Padded);
        var c = C(rng, [17, 33], View.Stepped, 0.5f);
        var want = IlgpuDevice.Clone(c);
        Cpu.Gemm(want, a, b, 1f, 0.5f);
        var got = IlgpuDevice.Across(c, device);
        Wide.Value.Gemm(got, IlgpuDevice.Across(a, device), IlgpuDevice.Across(b, device), 1f, 0.5f);
        AssertAgrees(c, a, b, 1f, 0.5f, Read(want), IlgpuDevice.Across(got, Device.Cpu));
    }

    [Fact]
    public void BadInputIsRefusedByName()
    {
        using var scope = new DisposeScope();
        var gpu = IlgpuDevice.Backend;
        Tensor D(int[] shape, DType dtype = DType.F32) => IlgpuDevice.Mirror(Output(shape, dtype));
        AssertThrows(() => gpu.Gemm(D([3, 5], DType.BF16), D([3, 4]), D([4, 5])), "gemm", "output must be float32", "bfloat16");
        AssertThrows(() => gpu.Gemm(D([3, 5]), D([3, 4], DType.I32), D([4, 5])), "gemm", "left operand", "int32");
        AssertThrows(() => gpu.Gemm(D([3, 5]), D([3, 4]), D([3, 5])), "gemm", "do not chain");
        AssertThrows(() => gpu.Gemm(D([3, 5]), D([2, 3, 4]), D([4, 5])), "gemm", "matrices");
        AssertThrows(() => gpu.Gemm(D([2, 3, 5]), D([3, 3, 4]), D([4, 5])), "gemm", "does not broadcast to 2");
        var sameC = IlgpuDevice.Mirror(Expanded(new double[15], [1, 3, 5], [2, 3, 5]));
        AssertThrows(() => gpu.Gemm(sameC, D([2, 3, 4]), D([4, 5])), "gemm", "batch stride 0");
        AssertThrows(() => gpu.Gemm(D([3, 5]), Output([3, 4]), D([4, 5])), "gemm", "must be on");
    }

    /// <summary>Runs both backends on the same inputs (the GPU on mirrors) and compares element by element.</summary>
    private static void Compare(Tensor c, Tensor a, Tensor b, float alpha, float beta, Precision precision)
    {
        var want = IlgpuDevice.Clone(c);
        var got = IlgpuDevice.Mirror(c);
        using (Autocast.Scope(precision))
        {
            Cpu.Gemm(want, a, b, alpha, beta);
            IlgpuDevice.Backend.Gemm(got, IlgpuDevice.Mirror(a), IlgpuDevice.Mirror(b), alpha, beta);
        }
        AssertAgrees(c, a, b, alpha, beta, Read(want), IlgpuDevice.Back(got));
    }

    /// <summary>Every element of <paramref name="back"/> (the device's C, on the host) within the sums' tolerance of <paramref name="expected"/>; its gaps untouched.</summary>
    private static void AssertAgrees(Tensor c, Tensor a, Tensor b, float alpha, float beta, double[] expected, Tensor back)
    {
        var actual = Read(back);
        var scale = Scales(c, a, b, alpha, beta);
        int k = a.Shape[^1];
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]) / (scale[i] + double.Epsilon);
            Assert.True(err <= 2 * GemmReference.Tolerance(k), $"gemm [{i}]: ilgpu {actual[i]:R}, cpu {expected[i]:R} (error {err:E2} of scale {scale[i]:G4}, k = {k})");
        }
        AssertGapsUntouched(back, "gemm");
    }

    /// <summary>|alpha|·Σ|a||b| + |beta·c| per element of C, the scale float32 rounding works at (a, b unread at alpha = 0, c at beta = 0).</summary>
    private static double[] Scales(Tensor c, Tensor a, Tensor b, float alpha, float beta)
    {
        int m = c.Shape[^2], n = c.Shape[^1], k = a.Shape[^1], batch = c.Rank == 3 ? c.Shape[0] : 1;
        double[] av = Read(a), bv = Read(b), cv = beta == 0f ? new double[c.Numel] : Read(c);
        int aItems = a.Rank == 3 ? a.Shape[0] : 1, bItems = b.Rank == 3 ? b.Shape[0] : 1;
        var scale = new double[c.Numel];
        for (int bi = 0; bi < batch; bi++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (int p = 0; p < k; p++)
                        sum += Math.Abs(av[((long)(bi % aItems) * m + i) * k + p] * bv[((long)(bi % bItems) * k + p) * n + j]);
                    long e = ((long)bi * m + i) * n + j;
                    scale[e] = (alpha == 0f ? 0 : Math.Abs(alpha) * sum) + Math.Abs(beta * cv[e]);
                }
        return scale;
    }

    private static Tensor Operand(Random rng, int[] shape, DType dtype, View view)
        => Place(Round(Uniform(rng, BackendReference.Numel(shape), -1, 1), dtype), shape, dtype, view);

    /// <summary>C before the call: values where beta reads them, NaN poison (and NaN gaps) at beta = 0.</summary>
    private static Tensor C(Random rng, int[] shape, View view, float beta)
        => beta == 0f ? Output(shape, DType.F32, view) : Operand(rng, shape, DType.F32, view);
}
