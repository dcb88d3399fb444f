using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>Rotary embedding in HF's rotate-half layout on contiguous x [N, H, D], one thread per rotated pair.</summary>
internal static class RopeKernels
{
    /// <summary>
    /// Pair (x_k, x_{k+D/2}) of token t's head turns by row positions[t] of cos/sin [P, D/2] (sign −1: the inverse).
    /// Each thread reads its pair before writing it, so y may be x.
    /// </summary>
    [GpuKernel]
    public static void Rotate(Index1D i, ArrayView<float> y, ArrayView<float> x, ArrayView<float> cos, ArrayView<float> sin, Elems positions, int heads, int half, float sign)
    {
        int k = i % half, th = i / half;
        long p = positions.LoadInteger(th / heads) * half + k;
        float c = cos[p], s = sign * sin[p];
        long a = (long)th * 2 * half + k, b = a + half;
        float xa = x[a], xb = x[b];
        y[a] = xa * c - xb * s;
        y[b] = xb * c + xa * s;
    }
}
