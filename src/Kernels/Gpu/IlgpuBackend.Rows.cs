using ILGPU;
using ILGPU.Runtime;
using CpuKernels = RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Kernels.Gpu;

// The row kernels. Arguments are checked by the CPU backend's own check methods, so a bad call fails the same way on
// both. Token ids and RoPE positions stay on the device: the kernel checks each against its table and reports one out of
// range through DeviceFault, thrown at the next read or synchronize (checking on the host would copy them down and wait
// for the stream at every call). Cross-entropy targets need no such check: one outside the chunk (an ignore index
// included) simply has no column there.
public sealed partial class IlgpuBackend
{
    /// <summary>Warps per group of the one-warp-per-row kernels (fewer where the accelerator's groups are smaller).</summary>
    private const int RowWarpsPerGroup = 8;

    /// <inheritdoc/>
    public void Softmax(Tensor y, Tensor x)
    {
        Require("softmax", y, x);
        var (n, d) = CpuKernels.Softmax.CheckForward(y, x);
        if (n == 0 || d == 0)
            return;
        var k = Kernel(static a => a.LoadKernel<ArrayView<float>, ArrayView<float>, int, int>(SoftmaxKernels.Forward));
        k(Stream, RowGroups("softmax", n, y, x), View<float>(y), View<float>(x), (int)n, d);
    }

    /// <inheritdoc/>
    public void SoftmaxBackward(Tensor dx, Tensor y, Tensor dy)
    {
        Require("softmax_backward", dx, y, dy);
        var (n, d) = CpuKernels.Softmax.CheckBackward(dx, y, dy);
        if (n == 0 || d == 0)
            return;
        var k = Kernel(static a => a.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(SoftmaxKernels.Backward));
        k(Stream, RowGroups("softmax_backward", n, dx, y, dy), View<float>(dx), View<float>(y), View<float>(dy), (int)n, d);
    }

    /// <inheritdoc/>
    public void RmsNorm(Tensor y, Tensor rstd, Tensor x, Tensor weight, float eps)
    {
        Require("rms_norm", y, rstd, x, weight);
        var (n, d) = CpuKernels.RmsNorm.CheckForward(y, rstd, x, weight);
        if (n == 0)
            return;
        var k = Kernel(static a => a.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, Elems, long, int, int, float>(RmsNormKernels.Forward));
        k(Stream, RowGroups("rms_norm", n, y, x), View<float>(y), View<float>(rstd), View<float>(x), Elems(weight), weight.Strides[0], (int)n, d, eps);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// dweight is a deterministic two-pass column sum rather than atomics: partial sums over fixed blocks of
    /// <see cref="RmsNormKernels.RowsPerPartial"/> rows, then their sum in block order — the same bits every run, as
    /// the CPU backend's chunk-ordered sum, for one extra [N / 64, D] buffer.
    /// </remarks>
    public void RmsNormBackward(Tensor dx, Tensor? dweight, Tensor dy, Tensor x, Tensor weight, Tensor rstd)
    {
        const string op = "rms_norm_backward";
        Require(op, dx, dweight, dy, x, weight, rstd);
        var (n, d) = CpuKernels.RmsNorm.CheckBackward(dx, dweight, dy, x, weight, rstd);
        if (n == 0 || d == 0)
        {
            if (dweight is not null)
                Fill(dweight, 0);
            return;
        }
        var k = Kernel(static a => a.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, Elems, long, ArrayView<float>, int, int>(RmsNormKernels.Backward));
        k(Stream, RowGroups(op, n, dx, dy, x), View<float>(dx), View<float>(dy), View<float>(x), Elems(weight), weight.Strides[0], View<float>(rstd), (int)n, d);
        if (dweight is null)
            return;
        int partials = (int)((n + RmsNormKernels.RowsPerPartial - 1) / RmsNormKernels.RowsPerPartial);
        using var partial = Tensor.Empty([partials, d], DType.F32, Device).DetachFromScope();
        var kp = Kernel(static a => a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(RmsNormKernels.WeightPartials));
        kp(Stream, Extent(op, (long)partials * d, dy, x), View<float>(partial), View<float>(dy), View<float>(x), View<float>(rstd), (int)n, d);
        var ks = Kernel(static a => a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(RmsNormKernels.SumPartials));
        ks(Stream, d, View<float>(dweight), View<float>(partial), partials, d);
    }

    /// <inheritdoc/>
    public void Rope(Tensor y, Tensor x, Tensor cos, Tensor sin, Tensor positions, bool inverse)
    {
        Require("rope", y, x, cos, sin, positions);
        CpuKernels.Rope.CheckShapes(y, x, cos, sin, positions);
        if (x.Numel == 0)
            return;
        int heads = x.Shape[1], half = x.Shape[2] / 2;
        var k = Kernel(static a => a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Elems, int, int, float, long, DeviceFault>(RopeKernels.Rotate));
        k(Stream, Extent("rope", x.Numel / 2, y, x), View<float>(y), View<float>(x), View<float>(cos), View<float>(sin), Elems(positions), heads, half, inverse ? -1f : 1f,
            cos.Shape[0], _faults.Param);
    }

    /// <inheritdoc/>
    public void SwiGlu(Tensor y, Tensor gate, Tensor up)
    {
        Require("swiglu", y, gate, up);
        CpuKernels.SwiGlu.CheckForward(y, gate, up);
        if (y.Numel == 0)
            return;
        var k = Kernel(static a => a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SwiGluKernels.Forward));
        k(Stream, Extent("swiglu", y.Numel, y, gate, up), View<float>(y), View<float>(gate), View<float>(up));
    }

    /// <inheritdoc/>
    public void SwiGluBackward(Tensor dgate, Tensor dup, Tensor dy, Tensor gate, Tensor up)
    {
        Require("swiglu_backward", dgate, dup, dy, gate, up);
        CpuKernels.SwiGlu.CheckBackward(dgate, dup, dy, gate, up);
        if (dy.Numel == 0)
            return;
        var k = Kernel(static a => a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SwiGluKernels.Backward));
        k(Stream, Extent("swiglu_backward", dy.Numel, dgate, dy), View<float>(dgate), View<float>(dup), View<float>(dy), View<float>(gate), View<float>(up));
    }

    /// <inheritdoc/>
    public void EmbeddingGather(Tensor y, Tensor weight, Tensor ids)
    {
        Require("embedding", y, weight, ids);
        CpuKernels.Embedding.CheckGatherShapes(y, weight, ids);
        if (y.Numel == 0)
            return;
        var k = Kernel(static a => a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, Elems, long, long, Elems, long, int, long, DeviceFault>(EmbeddingKernels.Gather));
        k(Stream, Extent("embedding", y.Numel, y, weight), View<float>(y), Elems(weight), weight.Strides[0], weight.Strides[1], Elems(ids), ids.Strides[0], y.Shape[1],
            weight.Shape[0], _faults.Param);
    }

    /// <inheritdoc/>
    public void EmbeddingScatterAdd(Tensor dweight, Tensor dy, Tensor ids)
    {
        Require("embedding_backward", dweight, dy, ids);
        CpuKernels.Embedding.CheckScatterAddShapes(dweight, dy, ids);
        if (dy.Numel == 0)
            return;
        var k = Kernel(static a => a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, Elems, long, int, long, DeviceFault>(EmbeddingKernels.ScatterAdd));
        k(Stream, Extent("embedding_backward", dy.Numel, dweight, dy), View<float>(dweight), View<float>(dy), Elems(ids), ids.Strides[0], dy.Shape[1],
            dweight.Shape[0], _faults.Param);
    }

    /// <inheritdoc/>
    public void CrossEntropy(Tensor lse, Tensor targetLogit, Tensor logits, Tensor targets, int vocabStart)
    {
        Require("cross_entropy", lse, targetLogit, logits, targets);
        var (n, c) = CpuKernels.CrossEntropy.CheckForward(lse, targetLogit, logits, targets);
        if (n == 0 || c == 0)
            return;
        var k = Kernel(static a => a.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, Elems, long, int, int, int>(CrossEntropyKernels.Forward));
        k(Stream, RowGroups("cross_entropy", n, logits), View<float>(lse), View<float>(targetLogit), View<float>(logits), Elems(targets), targets.Strides[0], (int)n, c, vocabStart);
    }

    /// <inheritdoc/>
    public void CrossEntropyBackward(Tensor dlogits, Tensor dloss, Tensor logits, Tensor lse, Tensor targets, int vocabStart)
    {
        const string op = "cross_entropy_backward";
        Require(op, dlogits, dloss, logits, lse, targets);
        var (n, c) = CpuKernels.CrossEntropy.CheckBackward(dlogits, dloss, logits, lse, targets);
        if (n == 0 || c == 0)
            return;
        var k = Kernel(static a => a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Elems, long, int, int>(CrossEntropyKernels.Backward));
        k(Stream, Extent(op, n * c, dlogits, logits), View<float>(dlogits), View<float>(dloss), View<float>(logits), View<float>(lse), Elems(targets), targets.Strides[0], c, vocabStart);
    }

    /// <summary>The launch of a one-warp-per-row kernel over <paramref name="rows"/> rows (<see cref="WarpRows"/>).</summary>
    private KernelConfig RowGroups(string op, long rows, params Tensor?[] tensors)
    {
        int n = Extent(op, rows, tensors), warp = Accelerator.WarpSize;
        int warps = Math.Max(1, Math.Min(RowWarpsPerGroup, Accelerator.MaxNumThreadsPerGroup / warp));
        return new KernelConfig((int)(((long)n + warps - 1) / warps), warps * warp);
    }
}
