using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// Our GEMM (c = alpha·a@b + beta·c on row-major, possibly transposed, batched or broadcast views) as one
/// cublasGemmStridedBatchedEx call on column-major matrices. A view whose rows are contiguous is, to cuBLAS, its
/// transpose stored column-major; so where c's rows are contiguous the plan computes cᵀ = bᵀ·aᵀ instead
/// (<see cref="Swapped"/>: cuBLAS's A is our b). Pure: the same plan for host tensors lets the tests run it through a
/// small column-major reference without a GPU. Offsets are the tensors' own; strides and leading dims are in elements.
/// </summary>
/// <param name="Swapped">cuBLAS's A is our b and its B our a (the transposed problem).</param>
/// <param name="TransA">cublasOperation_t of cuBLAS's A.</param>
/// <param name="TransB">cublasOperation_t of cuBLAS's B.</param>
/// <param name="M">Rows of cuBLAS's C.</param>
/// <param name="N">Columns of cuBLAS's C.</param>
/// <param name="K">The inner dimension.</param>
/// <param name="Lda">Leading dimension of cuBLAS's A as stored.</param>
/// <param name="Ldb">Leading dimension of cuBLAS's B as stored.</param>
/// <param name="Ldc">Leading dimension of C.</param>
/// <param name="StrideA">Batch stride of cuBLAS's A (0 broadcasts).</param>
/// <param name="StrideB">Batch stride of cuBLAS's B (0 broadcasts).</param>
/// <param name="StrideC">Batch stride of C.</param>
/// <param name="Batch">Batch items.</param>
/// <param name="TypeA">cudaDataType_t of cuBLAS's A.</param>
/// <param name="TypeB">cudaDataType_t of cuBLAS's B.</param>
/// <param name="Compute">cublasComputeType_t.</param>
internal readonly record struct CublasGemmPlan(
    bool Swapped, int TransA, int TransB, int M, int N, int K, int Lda, int Ldb, int Ldc,
    long StrideA, long StrideB, long StrideC, int Batch, int TypeA, int TypeB, int Compute)
{
    private const string Op = "gemm";

    /// <summary>The plan for <paramref name="c"/> = a @ b at the calling thread's <see cref="Autocast"/> precision.</summary>
    public static CublasGemmPlan For(Tensor c, Tensor a, Tensor b) => For(c, a, b, Autocast.Current);

    /// <summary>
    /// The plan for <paramref name="c"/> = a @ b at <paramref name="precision"/>; the tensor checks are the CPU backend's.
    /// cuBLAS wants both operands of one dtype (the caller casts a mixed pair) and, of each matrix, its rows or its
    /// columns contiguous.
    /// </summary>
    public static CublasGemmPlan For(Tensor c, Tensor a, Tensor b, Precision precision)
    {
        var s = GemmCall.Shape(c, a, b);
        if (a.DType != b.DType)
            throw Check.Fail(Op, $"cuBLAS multiplies operands of one dtype, not {a.DType.TorchName()} @ {b.DType.TorchName()} (cast one first)", c, a, b);
        var mc = Matrix.Of(c);
        var ma = Matrix.Of(a);
        var mb = Matrix.Of(b);
        bool swapped = Orient(mc) is not { ColumnMajor: true };
        if (swapped)
            (mc, ma, mb) = (mc.T, mb.T, ma.T);
        var (_, ldc) = Orient(mc) ?? throw Unsupported(c, c, a, b);
        var (aColumns, lda) = Orient(ma) ?? throw Unsupported(swapped ? b : a, c, a, b);
        var (bColumns, ldb) = Orient(mb) ?? throw Unsupported(swapped ? a : b, c, a, b);
        int type = DataType(a.DType);
        int compute = a.DType == DType.F32 && precision == Precision.Bf16 ? Cublas.Compute32FFast16BF : Cublas.Compute32F;
        return new CublasGemmPlan(swapped, aColumns ? Cublas.OpN : Cublas.OpT, bColumns ? Cublas.OpN : Cublas.OpT,
            mc.Rows, mc.Cols, ma.Cols, Ld(lda, c, a, b), Ld(ldb, c, a, b), Ld(ldc, c, a, b),
            swapped ? s.BatchB : s.BatchA, swapped ? s.BatchA : s.BatchB, s.BatchC, s.Batch, type, type, compute);
    }

    /// <summary>
    /// True when cuBLAS can read all three matrices as they lie (rows or columns contiguous); the backend runs any other
    /// layout, which the IBackend contract allows, on the tiled kernel instead.
    /// </summary>
    public static bool Reads(Tensor c, Tensor a, Tensor b)
        => c.Rank >= 2 && a.Rank >= 2 && b.Rank >= 2
           && Orient(Matrix.Of(c)) is not null && Orient(Matrix.Of(a)) is not null && Orient(Matrix.Of(b)) is not null;

    /// <summary>cudaDataType_t of a GEMM operand's dtype.</summary>
    public static int DataType(DType t) => t switch
    {
        DType.F32 => Cublas.R32F,
        DType.BF16 => Cublas.R16BF,
        DType.F16 => Cublas.R16F,
        _ => throw new ArgumentException($"{Op}: cuBLAS has no operand type for {t.TorchName()}"),
    };

    /// <summary>A matrix's sizes and its last two strides.</summary>
    private readonly record struct Matrix(int Rows, int Cols, long RowStride, long ColStride)
    {
        public static Matrix Of(Tensor t) => new(t.Shape[^2], t.Shape[^1], t.Strides[^2], t.Strides[^1]);

        public Matrix T => new(Cols, Rows, ColStride, RowStride);
    }

    /// <summary>
    /// How cuBLAS can read <paramref name="m"/>: column-major as it lies (columns contiguous, ld = the column stride), or
    /// as its transpose (rows contiguous, ld = the row stride); null where neither. A dim of size 1 takes any stride.
    /// </summary>
    private static (bool ColumnMajor, long Ld)? Orient(Matrix m)
    {
        if ((m.RowStride == 1 || m.Rows <= 1) && (m.Cols <= 1 || m.ColStride >= Math.Max(1, m.Rows)))
            return (true, m.Cols <= 1 ? Math.Max(1, m.Rows) : m.ColStride);
        if ((m.ColStride == 1 || m.Cols <= 1) && (m.Rows <= 1 || m.RowStride >= Math.Max(1, m.Cols)))
            return (false, m.Rows <= 1 ? Math.Max(1, m.Cols) : m.RowStride);
        return null;
    }

    private static int Ld(long ld, Tensor c, Tensor a, Tensor b)
        => ld <= int.MaxValue ? (int)ld : throw Check.Fail(Op, $"a leading dimension of {ld} is past cuBLAS's int", c, a, b);

    private static Exception Unsupported(Tensor t, Tensor c, Tensor a, Tensor b)
        => Check.Fail(Op, $"cuBLAS reads a matrix with its rows or its columns contiguous (one of the last two strides 1, the other " +
                          $"at least the dim it steps over); got a view of {Shapes.Format(t.Shape)} with strides [{string.Join(", ", t.Strides.ToArray())}]", c, a, b);
}
