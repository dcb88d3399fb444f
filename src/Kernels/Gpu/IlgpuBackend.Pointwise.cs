using ILGPU;
using ILGPU.Runtime;
using CpuKernels = RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Kernels.Gpu;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public void Random(Tensor dst, RandomKind kind, ulong seed, ulong offset, float a, float b)
    {
        Require("random", dst);
        CpuKernels.RandomFill.CheckArgs(dst);
        if (dst.Numel == 0)
            return;
        var k = Kernel(static a => a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, byte, ulong, ulong, float, float>(RandomKernels.Philox4));
        k(Stream, Extent("random", (dst.Numel + 3) / 4, dst), View<float>(dst).SubView(0, dst.Numel), (byte)kind, seed, offset, a, b);
    }

    /// <inheritdoc/>
    public void Unary(UnaryOp op, Tensor dst, Tensor src, float alpha = 0f)
    {
        string name = "unary " + op;
        Require(name, dst, src);
        CpuKernels.Elementwise.CheckUnary(op, dst, src);
        if (dst.Numel == 0)
            return;
        var k = Kernel(static a => a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, Strided, ArrayView<float>, Strided, byte, float, byte>(PointwiseKernels.Unary));
        k(Stream, Extent(name, dst.Numel, dst, src), View<float>(dst), Strided.Of(name, dst), View<float>(src), Strided.Of(name, src), (byte)op, alpha,
            Flat(dst, dst, src));
    }

    /// <inheritdoc/>
    public void Binary(BinaryOp op, Tensor dst, Tensor a, Tensor b)
    {
        string name = "binary " + op;
        Require(name, dst, a, b);
        CpuKernels.Elementwise.CheckBinary(op, dst, a, b);
        if (dst.Numel == 0)
            return;
        var k = Kernel(static a => a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, Strided, ArrayView<float>, Strided, ArrayView<float>, Strided, byte, byte>(PointwiseKernels.Binary));
        k(Stream, Extent(name, dst.Numel, dst, a, b), View<float>(dst), Strided.Of(name, dst),
            View<float>(a), Strided.Of(name, a, dst.Shape), View<float>(b), Strided.Of(name, b, dst.Shape), (byte)op, Flat(dst, dst, a, b));
    }

    /// <summary>1 when every operand is contiguous with dst's shape (no broadcast): element i is at offset i in each.</summary>
    private static byte Flat(Tensor dst, params ReadOnlySpan<Tensor> operands)
    {
        foreach (var t in operands)
            if (!t.IsContiguous || !Shapes.Equal(t.Shape, dst.Shape))
                return 0;
        return 1;
    }

    /// <inheritdoc/>
    /// <remarks>One group per output element (see <see cref="ReduceKernels"/>), sized to the reduced count.</remarks>
    public void Reduce(ReduceOp op, Tensor dst, Tensor src)
    {
        string name = "reduce " + op;
        Require(name, dst, src);
        long count = CpuKernels.Reduce.CheckArgs(op, dst, src).Count;
        if (dst.Numel == 0)
            return;
        // The input seen two ways: in dst's shape (the reduced dims at index 0) for each output's first element, and in
        // the reduced dims alone (the kept ones at index 0) for the elements of one output.
        var reducedShape = new int[src.Rank];
        for (int i = 0; i < src.Rank; i++)
            reducedShape[i] = dst.Shape[i] == src.Shape[i] ? 1 : src.Shape[i];
        var kept = Strided.Of(name, src, dst.Shape);
        var reduced = Strided.Of(name, src, reducedShape);
        int cap = Math.Min(ReduceKernels.MaxGroup, Accelerator.MaxNumThreadsPerGroup), group = Accelerator.WarpSize;
        while (group < cap && group < count)
            group *= 2;
        var config = new KernelConfig(Extent(name, dst.Numel, dst, src), new Index1D(Math.Min(group, cap)));
        if (op == ReduceOp.ArgMax)
        {
            var k = Kernel(static a => a.LoadKernel<ArrayView<long>, Strided, ArrayView<float>, Strided, Strided>(ReduceKernels.ArgMax));
            k(Stream, config, View<long>(dst), Strided.Of(name, dst), View<float>(src), kept, reduced);
            return;
        }
        var fold = Kernel(static a => a.LoadKernel<ArrayView<float>, Strided, ArrayView<float>, Strided, Strided, byte, float>(ReduceKernels.Fold));
        fold(Stream, config, View<float>(dst), Strided.Of(name, dst), View<float>(src), kept, reduced, (byte)op, count == 0 ? float.NaN : 1f / count);
    }

    /// <inheritdoc/>
    public void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step)
    {
        Require("adamw", param, grad, m, v);
        var constants = CpuKernels.AdamW.CheckArgs(param, grad, m, v, step);
        if (param.Numel == 0)
            return;
        var k = Kernel(static a => a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, CpuKernels.AdamW.Constants>(AdamWKernels.Step));
        k(Stream, Extent("adamw", param.Numel, param, grad, m, v), View<float>(param), View<float>(grad), View<float>(m), View<float>(v), constants);
    }
}
