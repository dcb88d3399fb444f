using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>
/// Matrix products through the backend GEMM. Transposed operands stay views (GEMM reads either
/// stride order), so x @ Wᵀ and the backward's gᵀ @ x copy nothing.
/// </summary>
public static class MatMulOp
{
    extension(Tensor a)
    {
        /// <summary>
        /// a [..., M, K] @ b [K, N] (leading dims of a are rows), or batched a [..., M, K] @ b [..., K, N]
        /// with equal batch dims.
        /// </summary>
        public Tensor MatMul(Tensor b)
        {
            const string op = "matmul";
            using var profile = Profiler.Op(op, a, b);
            Check.Alive(op, a, b);
            Check.SameDevice(op, a, b);
            Check.Float(op, a, "left operand");
            Check.Float(op, b, "right operand");
            if (a.Rank < 2 || b.Rank < 2)
                throw Check.Fail(op, "both operands need at least 2 dims", a, b);
            if (a.Shape[^1] != b.Shape[^2])
                throw Check.Fail(op, $"inner dims differ: {Shapes.Format(a.Shape)} @ {Shapes.Format(b.Shape)}", a, b);
            if (b.Rank == 2)
                return RowsTimesMatrix(a, b);
            if (a.Rank != b.Rank || !a.Shape[..^2].SequenceEqual(b.Shape[..^2]))
                throw Check.Fail(op, $"batch dims must match: {Shapes.Format(a.Shape)} @ {Shapes.Format(b.Shape)}", a, b);
            var outShape = a.ShapeArray;
            outShape[^1] = b.Shape[^1];
            int m = a.Shape[^2], k = a.Shape[^1], n = b.Shape[^1];
            Tensor y;
            using (Autograd.NoGrad())
            {
                using var ar = Graph.GemmReady(a);
                using var br = Graph.GemmReady(b);
                using var a3 = ar.Reshape(-1, m, k);
                using var b3 = br.Reshape(-1, k, n);
                using var y3 = Product(a3, b3);
                y = y3.Reshape(outShape);
            }
            return Graph.Record(y, op, [a, b], (g, need) =>
            [
                need[0] ? g.MatMul(b.Transpose(-1, -2)) : null,
                need[1] ? a.Transpose(-1, -2).MatMul(g) : null,
            ]);
        }
    }

    /// <summary>a [..., M, K] @ b [K, N]: the leading dims of a flatten into rows.</summary>
    private static Tensor RowsTimesMatrix(Tensor a, Tensor b)
    {
        var outShape = a.ShapeArray;
        outShape[^1] = b.Shape[1];
        Tensor y;
        using (Autograd.NoGrad())
        {
            using var ar = Graph.GemmReady(a);
            using var br = Graph.GemmReady(b);
            using var a2 = ar.Reshape(-1, a.Shape[^1]);
            using var y2 = Product(a2, br);
            y = y2.Reshape(outShape);
        }
        return Graph.Record(y, "matmul", [a, b], (g, need) =>
        [
            need[0] ? g.MatMul(b.Transpose(0, 1)) : null,
            need[1] ? a.Reshape(-1, a.Shape[^1]).Transpose(0, 1).MatMul(g.Reshape(-1, g.Shape[^1])) : null,
        ]);
    }

    /// <summary>The raw product of two GEMM-ready operands of rank 2 or 3 into a new float32 tensor.</summary>
    internal static Tensor Product(Tensor a, Tensor b)
    {
        var shape = a.ShapeArray;
        shape[^1] = b.Shape[^1];
        var c = Graph.Empty(shape, a);
        Graph.Backend("matmul", c, a, b).Gemm(c, a, b);
        return c;
    }
}
