using System.Numerics.Tensors;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Reductions into a keepdim-shaped output. The output is read as a broadcast (stride 0) view of
/// the input's shape, so one strided loop serves every choice of reduced dims: a reduced inner dim
/// folds a row into one number, a kept inner dim accumulates rows elementwise.
/// </summary>
internal static unsafe class Reduce
{
    public static void Run(ReduceOp op, Tensor dst, Tensor src)
    {
        var (count, lastReduced) = CheckArgs(op, dst, src);
        if (op == ReduceOp.ArgMax)
        {
            ArgMax(dst, src, lastReduced);
            return;
        }
        var dstStrides = new long[src.Rank];
        for (int i = 0; i < src.Rank; i++)
            dstStrides[i] = dst.Shape[i] == 1 ? 0 : dst.Strides[i];
        dst.Device.Backend.Fill(dst, op switch { ReduceOp.Max => double.NegativeInfinity, ReduceOp.Min => double.PositiveInfinity, _ => 0 });
        var plan = new StridedPlan(src.Shape, dstStrides, src.Strides.ToArray());
        float* d0 = (float*)dst.DataPointer, s0 = (float*)src.DataPointer;
        long sd = plan.InnerStrides[0], ss = plan.InnerStrides[1];
        // Rows may run in parallel when each writes its own outputs; a row may be cut into pieces
        // only when its elements write distinct outputs (sd != 0).
        plan.ForEachRow(plan.RowsDistinct(0), sd != 0, (o, n) =>
        {
            float* d = d0 + o[0], s = s0 + o[1];
            if (sd == 0)
                *d = Merge(op, *d, Fold(op, s, ss, n));
            else if (sd == 1 && ss == 1 && op is ReduceOp.Sum or ReduceOp.Mean)
                TensorPrimitives.Add(new ReadOnlySpan<float>(d, n), new ReadOnlySpan<float>(s, n), new Span<float>(d, n));
            else
                for (int i = 0; i < n; i++)
                    d[i * sd] = Combine(op, d[i * sd], s[i * ss]);
        });
        if (op == ReduceOp.Mean)
            Elementwise.Unary(UnaryOp.Scale, dst, dst, count == 0 ? float.NaN : 1f / count);
    }

    /// <summary>
    /// Reduce's argument checks, shared with the GPU backend: a float32 input, a keepdim output (a reduced dim is one
    /// where the output has size 1 and the input not), F32 — or I64 for ArgMax, which reduces exactly one non-empty
    /// dim. Returns the elements folded into each output and the last reduced dim (−1 if none).
    /// </summary>
    public static (long Count, int LastReduced) CheckArgs(ReduceOp op, Tensor dst, Tensor src)
    {
        string name = "reduce " + op;
        Check.F32(name, src, "input");
        if (dst.Rank != src.Rank)
            throw Check.Fail(name, $"output must keep the input's rank {src.Rank} (size 1 in reduced dims), got {Shapes.Format(dst.Shape)}", dst, src);
        long count = 1;
        int reducedDims = 0, lastReduced = -1;
        for (int i = 0; i < src.Rank; i++)
        {
            if (dst.Shape[i] == src.Shape[i])
                continue;
            if (dst.Shape[i] != 1)
                throw Check.Fail(name, $"output shape {Shapes.Format(dst.Shape)} is not a keepdim reduction of {Shapes.Format(src.Shape)}", dst, src);
            count *= src.Shape[i];
            reducedDims++;
            lastReduced = i;
        }
        if (op == ReduceOp.ArgMax)
        {
            Check.DTypeIs(name, dst, "output", DType.I64);
            if (reducedDims != 1 || count == 0)
                throw Check.Fail(name, "argmax reduces exactly one non-empty dim", dst, src);
        }
        else
            Check.F32(name, dst, "output");
        return (count, lastReduced);
    }

    /// <summary>A partial result (a folded row) into the running one: a sum of squares adds, the rest combine.</summary>
    private static float Merge(ReduceOp op, float acc, float partial) => op == ReduceOp.SumOfSquares ? acc + partial : Combine(op, acc, partial);

    private static float Combine(ReduceOp op, float acc, float x) => op switch
    {
        ReduceOp.Max => MathF.Max(acc, x),
        ReduceOp.Min => MathF.Min(acc, x),
        ReduceOp.SumOfSquares => acc + x * x,
        _ => acc + x,
    };

    private static float Fold(ReduceOp op, float* s, long stride, int n)
    {
        if (stride == 1)
        {
            var span = new ReadOnlySpan<float>(s, n);
            return op switch
            {
                ReduceOp.Max => TensorPrimitives.Max(span),
                ReduceOp.Min => TensorPrimitives.Min(span),
                ReduceOp.SumOfSquares => TensorPrimitives.SumOfSquares(span),
                _ => TensorPrimitives.Sum(span),
            };
        }
        float acc = op switch { ReduceOp.Max => float.NegativeInfinity, ReduceOp.Min => float.PositiveInfinity, _ => 0 };
        for (int i = 0; i < n; i++)
            acc = Combine(op, acc, s[i * stride]);
        return acc;
    }

    /// <summary>Index of the first maximum along <paramref name="dim"/> (NaN counts as the maximum, as in PyTorch).</summary>
    private static void ArgMax(Tensor dst, Tensor src, int dim)
    {
        var plan = new StridedPlan(dst.Shape, dst.Strides.ToArray(), src.Strides.ToArray());
        long* d0 = (long*)dst.DataPointer;
        float* s0 = (float*)src.DataPointer;
        long red = src.Strides[dim];
        int len = src.Shape[dim];
        plan.ForEachRow(true, true, (o, n) =>
        {
            for (int i = 0; i < n; i++)
            {
                float* s = s0 + o[1] + i * plan.InnerStrides[1];
                long best = 0;
                float bv = s[0];
                for (int k = 1; k < len && !float.IsNaN(bv); k++)
                {
                    float v = s[k * red];
                    if (v > bv || float.IsNaN(v))
                    {
                        bv = v;
                        best = k;
                    }
                }
                d0[o[0] + i * plan.InnerStrides[0]] = best;
            }
        });
    }
}
