using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>Rotary embedding in HF's rotate-half layout on contiguous x [N, H, D], one thread per rotated pair.</summary>
internal static class RopeKernels
{
    /// <summary>
    /// Pair (x_k, x_{k+D/2}) of token t's head turns by row positions[t] of cos/sin [P, D/2] (sign −1: the inverse).
    /// Each thread reads its pair before writing it, so y may be x. A position outside the table gives 0 and a fault report.
    /// </summary>
    [GpuKernel]
    public static void Rotate(Index1D i, ArrayView<float> y, ArrayView<float> x, ArrayView<float> cos, ArrayView<float> sin, Elems positions, int heads, int half, float sign, long rows, DeviceFault fault)
    {
        int k = i % half, th = i / half;
        long a = (long)th * 2 * half + k, b = a + half;
        long row = positions.LoadInteger(th / heads);
        if (row < 0 || row >= rows)
        {
            fault.Report((long)FaultCode.RopePosition, row, rows);
            y[a] = 0;
            y[b] = 0;
            return;
        }
        long p = row * half + k;
        float c = cos[p], s = sign * sin[p];
        float xa = x[a], xb = x[b];
        y[a] = xa * c - xb * s;
        y[b] = xb * c + xa * s;
    }
}
