using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>Softmax over contiguous rows [N, D] and its backward, one warp per row (<see cref="WarpRows"/>).</summary>
internal static class SoftmaxKernels
{
    /// <summary>
    /// y = e^(x − max) / Σ e^(x − max) per row, in three passes over the row (max, sum, write); the exponentials are
    /// recomputed rather than kept, as a row may be longer than registers hold. y may be x.
    /// </summary>
    [GpuKernel]
    public static void Forward(ArrayView<float> y, ArrayView<float> x, int n, int d)
    {
        int row = WarpRows.Row;
        if (row >= n)
            return;
        long o = (long)row * d;
        var (max, sum) = WarpRows.MaxAndSumExp(x, o, d);
        float inv = 1f / sum;
        for (int j = Warp.LaneIdx; j < d; j += Warp.WarpSize)
            y[o + j] = GpuMath.Exp(x[o + j] - max) * inv;
    }

    /// <summary>dx = (dy − Σ dy·y) · y per row.</summary>
    [GpuKernel]
    public static void Backward(ArrayView<float> dx, ArrayView<float> y, ArrayView<float> dy, int n, int d)
    {
        int row = WarpRows.Row;
        if (row >= n)
            return;
        long o = (long)row * d;
        float dot = 0;
        for (int j = Warp.LaneIdx; j < d; j += Warp.WarpSize)
            dot += y[o + j] * dy[o + j];
        dot = WarpRows.Sum(dot);
        for (int j = Warp.LaneIdx; j < d; j += Warp.WarpSize)
            dx[o + j] = (dy[o + j] - dot) * y[o + j];
    }
}
