namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// From tensor views to the pointer-and-strides GEMM: shape checks and batch broadcasting; the precision is
/// the calling thread's <see cref="Autocast"/> setting.
/// </summary>
internal static unsafe class GemmCall
{
    public static void Run(Tensor c, Tensor a, Tensor b, float alpha, float beta)
    {
        var s = Shape(c, a, b);
        Gemm.Run(s.Batch, s.M, s.N, s.K, alpha, Operand(a, s.BatchA), Operand(b, s.BatchB), beta, Operand(c, s.BatchC), Autocast.Current);
    }

    /// <summary>
    /// The checks of c = alpha·a@b + beta·c over tensors, shared by every backend: dtypes, ranks, chaining shapes and
    /// batch broadcasting; the sizes and each operand's batch stride (0 where it broadcasts).
    /// </summary>
    internal static GemmShape Shape(Tensor c, Tensor a, Tensor b)
    {
        const string op = "gemm";
        Check.Alive(op, c, a, b);
        Check.F32(op, c, "output");
        Check.Float(op, a, "left operand");
        Check.Float(op, b, "right operand");
        if (c.Rank is not (2 or 3) || a.Rank is not (2 or 3) || b.Rank is not (2 or 3) || (c.Rank == 2 && (a.Rank == 3 || b.Rank == 3)))
            throw Check.Fail(op, "operands must be matrices [M, K] @ [K, N] or batches [B, M, K] @ [B, K, N]", c, a, b);
        int m = a.Shape[^2], k = a.Shape[^1], n = b.Shape[^1];
        if (b.Shape[^2] != k || c.Shape[^2] != m || c.Shape[^1] != n)
            throw Check.Fail(op, $"shapes do not chain: {Shapes.Format(a.Shape)} @ {Shapes.Format(b.Shape)} into {Shapes.Format(c.Shape)}", c, a, b);
        int batch = c.Rank == 3 ? c.Shape[0] : 1;
        var s = new GemmShape(batch, m, n, k, BatchStride(op, a, batch), BatchStride(op, b, batch), BatchStride(op, c, batch));
        Gemm.CheckOutputBatch(batch, m, n, s.BatchC);
        return s;
    }

    private static long BatchStride(string op, Tensor t, int batch)
    {
        if (t.Rank < 3 || t.Shape[0] == 1)
            return 0;
        return t.Shape[0] == batch ? t.Strides[0] : throw Check.Fail(op, $"batch of {t.Shape[0]} does not broadcast to {batch}", t);
    }

    private static GemmOperand Operand(Tensor t, long batchStride)
        => new((void*)t.DataPointer, t.DType, t.Strides[^2], t.Strides[^1], batchStride);
}

/// <summary>A checked tensor GEMM: C[b] (M × N) from A[b] (M × K) @ B[b] (K × N) over Batch items; batch strides in elements, 0 broadcasts.</summary>
internal readonly record struct GemmShape(int Batch, int M, int N, int K, long BatchA, long BatchB, long BatchC);
