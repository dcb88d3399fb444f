using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// RMSNorm over contiguous float32 rows [N, D] with a weight [D] of any float dtype and stride: forward and dx one warp
/// per row (<see cref="WarpRows"/>); dweight a deterministic two-pass column sum (<see cref="WeightPartials"/>, then
/// <see cref="SumPartials"/>).
/// </summary>
internal static class RmsNormKernels
{
    /// <summary>Rows summed per partial of dweight: fixed, so the sums' order (and bits) do not depend on the device.</summary>
    public const int RowsPerPartial = 64;

    /// <summary>r = (mean(x²) + eps)^−½ into rstd[row], y = x·r·w.</summary>
    [GpuKernel]
    public static void Forward(ArrayView<float> y, ArrayView<float> rstd, ArrayView<float> x, Elems w, long wStride, int n, int d, float eps)
    {
        int row = WarpRows.Row;
        if (row >= n)
            return;
        long o = (long)row * d;
        float ss = 0;
        for (int j = Warp.LaneIdx; j < d; j += Warp.WarpSize)
            ss += x[o + j] * x[o + j];
        float rs = 1f / MathF.Sqrt(WarpRows.Sum(ss) / d + eps);
        for (int j = Warp.LaneIdx; j < d; j += Warp.WarpSize)
            y[o + j] = x[o + j] * rs * w.Load(j * wStride);
        if (Warp.IsFirstLane)
            rstd[row] = rs;
    }

    /// <summary>dx = r·(w⊙dy) − (r³/D)·(Σ w⊙dy⊙x)·x per row.</summary>
    [GpuKernel]
    public static void Backward(ArrayView<float> dx, ArrayView<float> dy, ArrayView<float> x, Elems w, long wStride, ArrayView<float> rstd, int n, int d)
    {
        int row = WarpRows.Row;
        if (row >= n)
            return;
        long o = (long)row * d;
        float rs = rstd[row], dot = 0;
        for (int j = Warp.LaneIdx; j < d; j += Warp.WarpSize)
            dot += dy[o + j] * w.Load(j * wStride) * x[o + j];
        float c = -rs * rs * rs * WarpRows.Sum(dot) / d;
        for (int j = Warp.LaneIdx; j < d; j += Warp.WarpSize)
            dx[o + j] = x[o + j] * c + dy[o + j] * w.Load(j * wStride) * rs;
    }

    /// <summary>
    /// partial[p, j] = Σ dy⊙x·r over rows [p·<see cref="RowsPerPartial"/>, …) of column j: one thread per (p, j), so
    /// neighbouring threads read neighbouring columns.
    /// </summary>
    [GpuKernel]
    public static void WeightPartials(Index1D i, ArrayView<float> partial, ArrayView<float> dy, ArrayView<float> x, ArrayView<float> rstd, int n, int d)
    {
        int p = i / d, j = i % d;
        int end = Math.Min(n, (p + 1) * RowsPerPartial);
        float acc = 0;
        for (int r = p * RowsPerPartial; r < end; r++)
        {
            long o = (long)r * d + j;
            acc += dy[o] * x[o] * rstd[r];
        }
        partial[i] = acc;
    }

    /// <summary>dweight[j] = Σ_p partial[p, j], in partial order.</summary>
    [GpuKernel]
    public static void SumPartials(Index1D j, ArrayView<float> dweight, ArrayView<float> partial, int partials, int d)
    {
        float acc = 0;
        for (int p = 0; p < partials; p++)
            acc += partial[(long)p * d + j];
        dweight[j] = acc;
    }
}
