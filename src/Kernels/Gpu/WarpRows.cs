using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// The row kernels' shape: one warp per row (its lanes stride through the row, so loads coalesce), several warps per
/// group, rows past the last skipped by whole warps. Reductions are butterfly shuffles within the warp — no shared
/// memory and no group barrier — and hold for any power-of-two warp size (4 on the test accelerator, 32 on a GPU).
/// </summary>
internal static class WarpRows
{
    /// <summary>The row this thread's warp works on.</summary>
    public static int Row => Grid.IdxX * (Group.DimX / Warp.WarpSize) + Warp.WarpIdx;

    /// <summary>The sum of <paramref name="v"/> over the warp's lanes, in every lane.</summary>
    public static float Sum(float v)
    {
        for (int m = Warp.WarpSize / 2; m > 0; m /= 2)
            v += Warp.ShuffleXor(v, m);
        return v;
    }

    /// <summary>The maximum of <paramref name="v"/> over the warp's lanes, in every lane.</summary>
    public static float Max(float v)
    {
        for (int m = Warp.WarpSize / 2; m > 0; m /= 2)
            v = MathF.Max(v, Warp.ShuffleXor(v, m));
        return v;
    }

    /// <summary>
    /// The maximum m of row x[o … o + d) and Σ e^(x − m) over it, in every lane: the stable start of a softmax or a
    /// log-sum-exp (a row of −∞ gives m = −∞ and a NaN sum, as on the CPU).
    /// </summary>
    public static (float Max, float SumExp) MaxAndSumExp(ArrayView<float> x, long o, int d)
    {
        float max = float.NegativeInfinity;
        for (int j = Warp.LaneIdx; j < d; j += Warp.WarpSize)
            max = MathF.Max(max, x[o + j]);
        max = Max(max);
        float sum = 0;
        for (int j = Warp.LaneIdx; j < d; j += Warp.WarpSize)
            sum += GpuMath.Exp(x[o + j] - max);
        return (max, Sum(sum));
    }
}
