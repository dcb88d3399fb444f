namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// From tensor views to the pointer-and-strides GEMM: shape checks and batch broadcasting; the precision is
/// the calling thread's <see cref="Autocast"/> setting.
/// </summary>
internal static unsafe class GemmCall
{
    public static void Run(Tensor c, Tensor a, Tensor b, float alpha, float beta)
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
        Gemm.Run(batch, m, n, k, alpha, Operand(op, a, batch), Operand(op, b, batch), beta, Operand(op, c, batch), Autocast.Current);
    }

    private static GemmOperand Operand(string op, Tensor t, int batch)
    {
        long batchStride = 0;
        if (t.Rank == 3)
        {
            if (t.Shape[0] == batch)
                batchStride = batch == 1 ? 0 : t.Strides[0];
            else if (t.Shape[0] != 1)
                throw Check.Fail(op, $"batch of {t.Shape[0]} does not broadcast to {batch}", t);
        }
        return new GemmOperand((void*)t.DataPointer, t.DType, t.Strides[^2], t.Strides[^1], batchStride);
    }
}
