using RawLongLoRA.Kernels.Cuda;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>
/// The cuBLAS GEMM plan without a GPU: the plan for host tensors is carried out by a column-major reference GEMM that
/// does exactly what cublasGemmStridedBatchedEx is documented to do with it (transposes, leading dims, batch strides,
/// the compute type's rounding), into a poisoned output, and compared with the CPU backend's Gemm.
/// </summary>
public sealed unsafe class CudaGemmPlanTests
{
    public static TheoryData<int, int, int, int, View, View, View> Cases()
    {
        var d = new TheoryData<int, int, int, int, View, View, View>();
        var views = new[]
        {
            (View.Contiguous, View.Contiguous, View.Contiguous), (View.Transposed, View.Contiguous, View.Contiguous),
            (View.Contiguous, View.Transposed, View.Contiguous), (View.Contiguous, View.Contiguous, View.Transposed),
            (View.Transposed, View.Transposed, View.Transposed), (View.Padded, View.Transposed, View.Padded),
            (View.Padded, View.Padded, View.Transposed),
        };
        foreach (var (batch, m, k, n) in new[] { (0, 3, 5, 7), (0, 1, 13, 5), (0, 17, 3, 1), (0, 1, 1, 1), (2, 3, 5, 7), (3, 4, 1, 6) })
            foreach (var (va, vb, vc) in views)
                d.Add(batch, m, k, n, va, vb, vc);
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ThePlanComputesWhatTheCpuComputesInF32(int batch, int m, int k, int n, View va, View vb, View vc)
        => Compare(batch, m, k, n, va, vb, vc, DType.F32, Precision.F32, 1.5f, 0f);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ThePlanComputesWhatTheCpuComputesInBf16WithBeta(int batch, int m, int k, int n, View va, View vb, View vc)
        => Compare(batch, m, k, n, va, vb, vc, DType.BF16, Precision.F32, 0.75f, 0.5f);

    [Theory]
    [MemberData(nameof(Cases))]
    public void UnderAutocastBf16F32OperandsAreRoundedOnTheTensorCores(int batch, int m, int k, int n, View va, View vb, View vc)
        => Compare(batch, m, k, n, va, vb, vc, DType.F32, Precision.Bf16, 1f, 0f);

    [Fact]
    public void ARowContiguousOutputIsTheTransposedProblemAndAColumnContiguousOneIsNot()
    {
        using var scope = new DisposeScope();
        var a = Place(new double[15], [3, 5], DType.BF16);
        var b = Place(new double[35], [5, 7], DType.BF16, View.Transposed);
        var rowMajor = CublasGemmPlan.For(Output([3, 7]), a, b, Precision.F32);
        Assert.Equal(new CublasGemmPlan(true, Cublas.OpT, Cublas.OpN, 7, 3, 5, 5, 5, 7, 0, 0, 0, 1, Cublas.R16BF, Cublas.R16BF, Cublas.Compute32F), rowMajor);
        var columnMajor = CublasGemmPlan.For(Output([3, 7], DType.F32, View.Transposed), a, b, Precision.F32);
        Assert.Equal(new CublasGemmPlan(false, Cublas.OpT, Cublas.OpN, 3, 7, 5, 5, 5, 3, 0, 0, 0, 1, Cublas.R16BF, Cublas.R16BF, Cublas.Compute32F), columnMajor);
    }

    [Fact]
    public void BadInputIsRefusedNamingTheOpShapesAndDtypes()
    {
        using var scope = new DisposeScope();
        var c = Output([3, 7]);
        var a = Place(new double[15], [3, 5]);
        var b = Place(new double[35], [5, 7]);
        AssertThrows(() => CublasGemmPlan.For(c, Place(new double[15], [3, 5], View.Stepped), b, Precision.F32), "gemm", "contiguous", "[3, 5]", "strides [10, 2]");
        AssertThrows(() => CublasGemmPlan.For(c, a, Place(new double[35], [5, 7], DType.BF16), Precision.F32), "gemm", "one dtype", "float32 @ bfloat16");
        AssertThrows(() => CublasGemmPlan.For(c, a, Place(new double[28], [4, 7]), Precision.F32), "gemm", "do not chain", "[3, 5] @ [4, 7]");
        AssertThrows(() => CublasGemmPlan.For(Output([2, 3, 7]), Place(new double[45], [3, 3, 5]), b, Precision.F32), "gemm", "does not broadcast");
    }

    [Fact]
    public void ReadsSaysWhichLayoutsGoToCublasAndWhichToTheTiledKernel()
    {
        using var scope = new DisposeScope();
        var c = Output([3, 7]);
        var b = Place(new double[35], [5, 7]);
        Assert.True(CublasGemmPlan.Reads(c, Place(new double[15], [3, 5]), b));
        Assert.True(CublasGemmPlan.Reads(c, Place(new double[15], [3, 5], View.Transposed), b));
        Assert.True(CublasGemmPlan.Reads(c, Place(new double[15], [3, 5], View.Padded), b));
        Assert.False(CublasGemmPlan.Reads(c, Place(new double[15], [3, 5], View.Stepped), b)); // neither stride 1
        Assert.False(CublasGemmPlan.Reads(Output([3, 7], DType.F32, View.Stepped), Place(new double[15], [3, 5]), b));
    }

    private static void Compare(int batch, int m, int k, int n, View va, View vb, View vc, DType dtype, Precision precision, float alpha, float beta)
    {
        using var scope = new DisposeScope();
        var rng = new Random(batch * 1000 + m * 100 + k * 10 + n);
        // Batched: a has the batch, b broadcasts one matrix over it (batch dim of 1, stride 0 for cuBLAS).
        int[] sa = batch > 0 ? [batch, m, k] : [m, k], sb = batch > 0 ? [1, k, n] : [k, n], sc = batch > 0 ? [batch, m, n] : [m, n];
        var a = Place(Uniform(rng, BackendReference.Numel(sa), -1, 1), sa, dtype, va);
        var b = Place(Uniform(rng, BackendReference.Numel(sb), -1, 1), sb, dtype, vb);
        var start = Uniform(rng, BackendReference.Numel(sc), -1, 1);
        var want = beta == 0 ? Output(sc, DType.F32, vc) : Place(start, sc, DType.F32, vc);
        var got = beta == 0 ? Output(sc, DType.F32, vc) : Place(start, sc, DType.F32, vc);
        using (Autocast.Scope(precision))
            Cpu.Gemm(want, a, b, alpha, beta);
        var plan = CublasGemmPlan.For(got, a, b, precision);
        ColumnMajorGemm(plan, got, a, b, alpha, beta);
        string what = $"gemm {dtype.TorchName()} at {precision} [{string.Join(',', sa)}]{va} @ [{string.Join(',', sb)}]{vb} into {vc} by {plan}";
        AssertClose(what, Read(want), Read(got), 1e-5);
        AssertGapsUntouched(got, what);
    }

    /// <summary>
    /// cublasGemmStridedBatchedEx by its documentation: for each batch item p, C = alpha·op(A)·op(B) + beta·C with
    /// column-major X(i, j) at X + p·strideX + i + j·ldX; op(X) = X or Xᵀ; C is not read when beta is 0; under
    /// CUBLAS_COMPUTE_32F_FAST_16BF the float32 operands are rounded to bf16 first.
    /// </summary>
    private static void ColumnMajorGemm(CublasGemmPlan p, Tensor c, Tensor a, Tensor b, float alpha, float beta)
    {
        var (first, second) = p.Swapped ? (b, a) : (a, b);
        bool round = p.Compute == Cublas.Compute32FFast16BF;
        double Op(Tensor x, int trans, int ld, long offset, int i, int j)
        {
            long at = x.Layout.Offset + offset + (trans == Cublas.OpN ? i + (long)j * ld : j + (long)i * ld);
            double v = ReadRaw((byte*)x.Storage.Handle + at * x.DType.Size(), x.DType);
            return round ? BackendReference.ToBf16(v) : v;
        }
        float* cp = (float*)c.Storage.Handle + c.Layout.Offset;
        for (int item = 0; item < p.Batch; item++)
            for (int i = 0; i < p.M; i++)
                for (int j = 0; j < p.N; j++)
                {
                    double sum = 0;
                    for (int l = 0; l < p.K; l++)
                        sum += Op(first, p.TransA, p.Lda, item * p.StrideA, i, l) * Op(second, p.TransB, p.Ldb, item * p.StrideB, l, j);
                    float* to = cp + item * p.StrideC + i + (long)j * p.Ldc;
                    *to = (float)(alpha * sum + (beta == 0 ? 0 : beta * *to));
                }
    }
}
