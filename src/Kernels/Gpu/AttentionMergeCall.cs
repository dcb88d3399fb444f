using ILGPU;
using ILGPU.Runtime;
using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>AttentionMerge and its backward on an ILGPU backend: the CPU backend's checks, then <see cref="AttentionMergeKernels"/>.</summary>
internal static class AttentionMergeCall
{
    public static void Forward(IlgpuBackend backend, Tensor o, Tensor lse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB)
    {
        const string op = "attention_merge";
        backend.Require(op, o, lse, oA, lseA, oB, lseB);
        var (_, t, hq, d) = AttentionCall.MergeDims(o, lse, oA, lseA, oB, lseB);
        if (lse.Numel == 0)
            return;
        var k = backend.Kernel(static a => a.LoadAutoGroupedKernel<Index1D, MergePart, MergePart, MergePart, MergeDims>(AttentionMergeKernels.Forward));
        k(backend.Stream, IlgpuBackend.Extent(op, lse.Numel * Math.Max(d, 1), o), Part(o, lse), Part(oA, lseA), Part(oB, lseB), new MergeDims { T = t, Hq = hq, D = d });
    }

    public static void Backward(IlgpuBackend backend, Tensor doA, Tensor dlseA, Tensor doB, Tensor dlseB, Tensor dout, Tensor? dlse,
                                Tensor oA, Tensor lseA, Tensor oB, Tensor lseB, Tensor o, Tensor lse)
    {
        const string op = "attention_merge_backward";
        backend.Require(op, doA, dlseA, doB, dlseB, dout, dlse, oA, lseA, oB, lseB, o, lse);
        var (_, t, hq, d) = AttentionCall.MergeBackwardDims(doA, dlseA, doB, dlseB, dout, dlse, oA, lseA, oB, lseB, o, lse);
        if (lse.Numel == 0)
            return;
        var k = backend.Kernel(static a => a.LoadAutoGroupedKernel<Index1D, MergePart, MergePart, MergePart, MergePart, MergePart, MergePart, MergeDims>(AttentionMergeKernels.Backward));
        // Without dlse the kernel reads no lse gradient: lse stands in for its view.
        k(backend.Stream, IlgpuBackend.Extent(op, lse.Numel, lse), Part(doA, dlseA), Part(doB, dlseB), Part(dout, dlse ?? lse), Part(oA, lseA), Part(oB, lseB), Part(o, lse),
          new MergeDims { T = t, Hq = hq, D = d, HasDlse = dlse is null ? 0 : 1 });
    }

    private static MergePart Part(Tensor o, Tensor lse) => new() { O = IlgpuBackend.View<float>(o), Lse = IlgpuBackend.View<float>(lse) };
}
