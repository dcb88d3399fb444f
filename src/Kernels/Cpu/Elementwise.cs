using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>Unary and broadcasting binary ops over any strides, float32.</summary>
internal static unsafe class Elementwise
{
    public static void Unary(UnaryOp op, Tensor dst, Tensor src, float alpha)
    {
        CheckUnary(op, dst, src);
        switch (op)
        {
            case UnaryOp.Neg: Map<NegFn>(dst, src, alpha); break;
            case UnaryOp.Exp: Map<ExpFn>(dst, src, alpha); break;
            case UnaryOp.Log: Map<LogFn>(dst, src, alpha); break;
            case UnaryOp.Sqrt: Map<SqrtFn>(dst, src, alpha); break;
            case UnaryOp.Rsqrt: Map<RsqrtFn>(dst, src, alpha); break;
            case UnaryOp.Reciprocal: Map<ReciprocalFn>(dst, src, alpha); break;
            case UnaryOp.Sigmoid: Map<SigmoidFn>(dst, src, alpha); break;
            case UnaryOp.Silu: Map<SiluFn>(dst, src, alpha); break;
            case UnaryOp.Tanh: Map<TanhFn>(dst, src, alpha); break;
            case UnaryOp.Relu: Map<ReluFn>(dst, src, alpha); break;
            case UnaryOp.Abs: Map<AbsFn>(dst, src, alpha); break;
            case UnaryOp.Square: Map<SquareFn>(dst, src, alpha); break;
            case UnaryOp.Scale: Map<ScaleFn>(dst, src, alpha); break;
            case UnaryOp.AddScalar: Map<AddScalarFn>(dst, src, alpha); break;
            case UnaryOp.Pow: Map<PowFn>(dst, src, alpha); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary op");
        }
    }

    public static void Binary(BinaryOp op, Tensor dst, Tensor a, Tensor b)
    {
        var strides = CheckBinary(op, dst, a, b);
        switch (op)
        {
            case BinaryOp.Add: Zip<AddFn>(dst, a, b, strides); break;
            case BinaryOp.Sub: Zip<SubFn>(dst, a, b, strides); break;
            case BinaryOp.Mul: Zip<MulFn>(dst, a, b, strides); break;
            case BinaryOp.Div: Zip<DivFn>(dst, a, b, strides); break;
            case BinaryOp.Maximum: Zip<MaxFn>(dst, a, b, strides); break;
            case BinaryOp.Minimum: Zip<MinFn>(dst, a, b, strides); break;
            case BinaryOp.SiluBackward: Zip<SiluBackwardFn>(dst, a, b, strides); break;
            case BinaryOp.SigmoidBackward: Zip<SigmoidBackwardFn>(dst, a, b, strides); break;
            case BinaryOp.TanhBackward: Zip<TanhBackwardFn>(dst, a, b, strides); break;
            case BinaryOp.ReluBackward: Zip<ReluBackwardFn>(dst, a, b, strides); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary op");
        }
    }

    /// <summary>Unary's argument checks, shared with the GPU backend: float32, one shape.</summary>
    public static void CheckUnary(UnaryOp op, Tensor dst, Tensor src)
    {
        string name = "unary " + op;
        Check.F32(name, dst, "output");
        Check.F32(name, src, "input");
        Check.SameShape(name, dst, src);
    }

    /// <summary>
    /// Binary's argument checks, shared with the GPU backend: float32, operands that broadcast to dst's shape, and a dst
    /// that is no broadcast view (stride 0 in a dim of size &gt; 1: two elements would write one place). Returns the
    /// operands' strides broadcast to dst's shape.
    /// </summary>
    public static (long[] A, long[] B) CheckBinary(BinaryOp op, Tensor dst, Tensor a, Tensor b)
    {
        string name = "binary " + op;
        Check.F32(name, dst, "output");
        Check.F32(name, a, "left operand");
        Check.F32(name, b, "right operand");
        for (int d = 0; d < dst.Rank; d++)
            if (dst.Shape[d] > 1 && dst.Strides[d] == 0 && dst.Numel > 0)
                throw Check.Fail(name, "the output must not be a broadcast view", dst);
        return (StridedPlan.BroadcastStrides(a, dst.Shape, name), StridedPlan.BroadcastStrides(b, dst.Shape, name));
    }

    private static void Map<T>(Tensor dst, Tensor src, float alpha) where T : IUnaryFn
    {
        var plan = new StridedPlan(dst.Shape, dst.Strides.ToArray(), src.Strides.ToArray());
        float* d0 = (float*)dst.DataPointer, s0 = (float*)src.DataPointer;
        long sd = plan.InnerStrides[0], ss = plan.InnerStrides[1];
        bool stream = Rows.Streams(plan, dst.Numel * sizeof(float));
        plan.ForEachRow(true, true, (o, n) =>
        {
            MapRow<T>(d0 + o[0], sd, s0 + o[1], ss, n, alpha, stream);
            Rows.Fence(stream);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MapRow<T>(float* d, long sd, float* s, long ss, int n, float alpha, bool stream) where T : IUnaryFn
    {
        int i = 0;
        if (sd == 1 && ss == 1)
        {
            i = Vector512.IsHardwareAccelerated ? MapVector<T, V512>(d, s, n, alpha, stream)
              : Vector256.IsHardwareAccelerated ? MapVector<T, V256>(d, s, n, alpha, stream) : 0;
        }
        for (; i < n; i++)
            T.Apply(new V1(s[i * ss]), new V1(alpha)).Store(d + i * sd);
    }

    /// <summary>The whole vectors of a contiguous row; returns where the tail starts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int MapVector<T, TV>(float* d, float* s, int n, float alpha, bool stream) where T : IUnaryFn where TV : unmanaged, IVec<TV>
    {
        var va = TV.Splat(alpha);
        int i = 0;
        for (; i <= n - TV.Count; i += TV.Count)
            T.Apply(TV.Load(s + i), va).Store(d + i, stream);
        return i;
    }

    private static void Zip<T>(Tensor dst, Tensor a, Tensor b, (long[] A, long[] B) strides) where T : IBinaryFn
    {
        var plan = new StridedPlan(dst.Shape, dst.Strides.ToArray(), strides.A, strides.B);
        float* d0 = (float*)dst.DataPointer, a0 = (float*)a.DataPointer, b0 = (float*)b.DataPointer;
        long sd = plan.InnerStrides[0], sa = plan.InnerStrides[1], sb = plan.InnerStrides[2];
        bool stream = Rows.Streams(plan, dst.Numel * sizeof(float));
        plan.ForEachRow(true, true, (o, n) =>
        {
            ZipRow<T>(d0 + o[0], sd, a0 + o[1], sa, b0 + o[2], sb, n, stream);
            Rows.Fence(stream);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ZipRow<T>(float* d, long sd, float* a, long sa, float* b, long sb, int n, bool stream) where T : IBinaryFn
    {
        int i = 0;
        if (sd == 1 && sa is 0 or 1 && sb is 0 or 1)
        {
            i = Vector512.IsHardwareAccelerated ? ZipVector<T, V512>(d, a, sa, b, sb, n, stream)
              : Vector256.IsHardwareAccelerated ? ZipVector<T, V256>(d, a, sa, b, sb, n, stream) : 0;
        }
        for (; i < n; i++)
            T.Apply(new V1(a[i * sa]), new V1(b[i * sb])).Store(d + i * sd);
    }

    /// <summary>The whole vectors of a contiguous output row whose operands are contiguous or one broadcast value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ZipVector<T, TV>(float* d, float* a, long sa, float* b, long sb, int n, bool stream) where T : IBinaryFn where TV : unmanaged, IVec<TV>
    {
        var ca = TV.Splat(*a);
        var cb = TV.Splat(*b);
        int i = 0;
        for (; i <= n - TV.Count; i += TV.Count)
            T.Apply(sa == 1 ? TV.Load(a + i) : ca, sb == 1 ? TV.Load(b + i) : cb).Store(d + i, stream);
        return i;
    }
}
