using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>Embedding row gather (weight of any float dtype and strides) and its scatter-add, one thread per element of dy / y.</summary>
internal static class EmbeddingKernels
{
    /// <summary>y[t, j] = weight[ids[t], j] as float32; ids are range-checked on the host before the launch.</summary>
    [GpuKernel]
    public static void Gather(Index1D i, ArrayView<float> y, Elems weight, long rowStride, long colStride, Elems ids, long idStride, int d)
    {
        int t = i / d, j = i % d;
        y[i] = weight.Load(ids.LoadInteger(t * idStride) * rowStride + j * colStride);
    }

    /// <summary>
    /// dweight[ids[t], j] += dy[t, j] by atomic adds: tokens sharing an id add into one row in no fixed order, so the
    /// sum's last bits may vary run to run (the CPU backend's sort-and-run order is not worth a sort on the device).
    /// </summary>
    [GpuKernel]
    public static void ScatterAdd(Index1D i, ArrayView<float> dweight, ArrayView<float> dy, Elems ids, long idStride, int d)
    {
        int t = i / d, j = i % d;
        Atomic.Add(ref dweight[ids.LoadInteger(t * idStride) * d + j], dy[i]);
    }
}
