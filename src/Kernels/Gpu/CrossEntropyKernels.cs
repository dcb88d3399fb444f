using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// Chunked cross-entropy over contiguous logits [N, C] (vocabulary columns vocabStart …): the forward folds the chunk
/// into the running lse one warp per row (<see cref="WarpRows"/>); the backward is one thread per logit.
/// </summary>
internal static class CrossEntropyKernels
{
    /// <summary>lse[row] = log(e^lse + Σ e^x) over the chunk; targetLogit[row] = the target's logit where it is in the chunk.</summary>
    [GpuKernel]
    public static void Forward(ArrayView<float> lse, ArrayView<float> targetLogit, ArrayView<float> logits, Elems targets, long targetStride, int n, int c, int vocabStart)
    {
        int row = WarpRows.Row;
        if (row >= n)
            return;
        long o = (long)row * c;
        var (max, sum) = WarpRows.MaxAndSumExp(logits, o, c);
        if (!Warp.IsFirstLane)
            return;
        lse[row] = LogAddExp(lse[row], max + GpuMath.Log(sum));
        long col = targets.LoadInteger(row * targetStride) - vocabStart;
        if (col >= 0 && col < c)
            targetLogit[row] = logits[o + col];
    }

    /// <summary>log(e^a + e^b), exact when a is −∞ (the first chunk): the CPU backend's fold, with the kernels' exp and log.</summary>
    private static float LogAddExp(float a, float b)
    {
        float hi = MathF.Max(a, b), lo = MathF.Min(a, b);
        return float.IsNegativeInfinity(lo) ? hi : hi + GpuMath.Log(1f + GpuMath.Exp(lo - hi));
    }

    /// <summary>
    /// dlogits = (e^(x − lse) − [col is the target]) · dloss per logit; rows with dloss 0 (ignored targets) get 0, with
    /// no NaN from an unused lse. Each logit is read before it is written, so dlogits may be logits.
    /// </summary>
    [GpuKernel]
    public static void Backward(Index1D i, ArrayView<float> dlogits, ArrayView<float> dloss, ArrayView<float> logits, ArrayView<float> lse, Elems targets, long targetStride, int c, int vocabStart)
    {
        int row = i / c, col = i % c;
        float dl = dloss[row];
        if (dl == 0)
        {
            dlogits[i] = 0;
            return;
        }
        float g = GpuMath.Exp(logits[i] - lse[row]) * dl;
        if (targets.LoadInteger(row * targetStride) - vocabStart == col)
            g -= dl;
        dlogits[i] = g;
    }
}
