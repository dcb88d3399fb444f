using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// The kernels of Reduce: one group per output element. Each thread folds every group-size-th element of the output's
/// reduced set (float32), then the group combines the partials in a tree through shared memory — any power-of-two
/// group size up to <see cref="MaxGroup"/>, with a barrier per level, so any warp size.
/// </summary>
internal static class ReduceKernels
{
    /// <summary>The largest group the kernels take (the size of their shared arrays).</summary>
    public const int MaxGroup = 256;

    /// <summary>
    /// dst[g] = op over the reduced set of output g: <paramref name="kept"/> maps g to the offset of its first input
    /// element, <paramref name="reduced"/> maps k to the offset of its k-th from there. Mean multiplies the sum by
    /// <paramref name="scale"/> = 1/count, as the CPU does.
    /// </summary>
    [GpuKernel]
    public static void Fold(ArrayView<float> dst, Strided d, ArrayView<float> src, Strided kept, Strided reduced, byte op, float scale)
    {
        var shared = SharedMemory.Allocate<float>(MaxGroup);
        int g = Grid.IdxX, t = Group.IdxX, size = Group.DimX;
        var o = (ReduceOp)op;
        long start = kept.Offset(g), count = reduced.Numel;
        float acc = o == ReduceOp.Max ? float.NegativeInfinity : o == ReduceOp.Min ? float.PositiveInfinity : 0f;
        for (long k = t; k < count; k += size)
        {
            float x = src[start + reduced.Offset(k)];
            acc = o switch
            {
                ReduceOp.Max => PointwiseKernels.Max(acc, x),
                ReduceOp.Min => PointwiseKernels.Min(acc, x),
                ReduceOp.SumOfSquares => acc + x * x,
                _ => acc + x,
            };
        }
        shared[t] = acc;
        Group.Barrier();
        for (int half = size / 2; half > 0; half /= 2)
        {
            if (t < half)
            {
                float a = shared[t], b = shared[t + half];
                shared[t] = o == ReduceOp.Max ? PointwiseKernels.Max(a, b) : o == ReduceOp.Min ? PointwiseKernels.Min(a, b) : a + b;
            }
            Group.Barrier();
        }
        if (t == 0)
            dst[d.Offset(g)] = o == ReduceOp.Mean ? shared[0] * scale : shared[0];
    }

    /// <summary>
    /// dst[g] = the index along the one reduced dim of output g's first maximum, NaN counting as the largest (as the
    /// CPU and PyTorch). Partials carry their index, so the tree keeps the first on ties whatever the order.
    /// </summary>
    [GpuKernel]
    public static void ArgMax(ArrayView<long> dst, Strided d, ArrayView<float> src, Strided kept, Strided reduced)
    {
        var values = SharedMemory.Allocate<float>(MaxGroup);
        var indices = SharedMemory.Allocate<long>(MaxGroup);
        int g = Grid.IdxX, t = Group.IdxX, size = Group.DimX;
        long start = kept.Offset(g), count = reduced.Numel;
        float best = float.NegativeInfinity;
        long at = -1; // no element yet: loses to any
        for (long k = t; k < count; k += size)
        {
            float x = src[start + reduced.Offset(k)];
            if (Before(x, k, best, at))
                (best, at) = (x, k);
        }
        values[t] = best;
        indices[t] = at;
        Group.Barrier();
        for (int half = size / 2; half > 0; half /= 2)
        {
            if (t < half && Before(values[t + half], indices[t + half], values[t], indices[t]))
            {
                values[t] = values[t + half];
                indices[t] = indices[t + half];
            }
            Group.Barrier();
        }
        if (t == 0)
            dst[d.Offset(g)] = indices[0];
    }

    /// <summary>Whether (x at index i) wins over (y at index j): a NaN beats a number, a larger beats a smaller, ties go to the lower index.</summary>
    private static bool Before(float x, long i, float y, long j)
    {
        if (i < 0)
            return false;
        if (j < 0)
            return true;
        bool xn = float.IsNaN(x), yn = float.IsNaN(y);
        if (xn != yn)
            return xn;
        if (!xn && x != y)
            return x > y;
        return i < j;
    }
}
