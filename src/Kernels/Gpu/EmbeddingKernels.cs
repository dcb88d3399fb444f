using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>Embedding row gather (weight of any float dtype and strides) and its scatter-add, one thread per element of dy / y.</summary>
internal static class EmbeddingKernels
{
    /// <summary>y[t, j] = weight[ids[t], j] as float32; an id outside [0, vocab) gives 0 and a fault report.</summary>
    [GpuKernel]
    public static void Gather(Index1D i, ArrayView<float> y, Elems weight, long rowStride, long colStride, Elems ids, long idStride, int d, long vocab, DeviceFault fault)
    {
        int t = i / d, j = i % d;
        long id = ids.LoadInteger(t * idStride);
        if (id < 0 || id >= vocab)
        {
            fault.Report((long)FaultCode.EmbeddingId, id, vocab);
            y[i] = 0;
            return;
        }
        y[i] = weight.Load(id * rowStride + j * colStride);
    }

    /// <summary>
    /// dweight[ids[t], j] += dy[t, j] by atomic adds: tokens sharing an id add into one row in no fixed order, so the
    /// sum's last bits may vary run to run (the CPU backend's sort-and-run order is not worth a sort on the device).
    /// </summary>
    [GpuKernel]
    public static void ScatterAdd(Index1D i, ArrayView<float> dweight, ArrayView<float> dy, Elems ids, long idStride, int d, long vocab, DeviceFault fault)
    {
        int t = i / d, j = i % d;
        long id = ids.LoadInteger(t * idStride);
        if (id < 0 || id >= vocab)
            fault.Report((long)FaultCode.EmbeddingBackwardId, id, vocab);
        else
            Atomic.Add(ref dweight[id * d + j], dy[i]);
    }
}
