using ILGPU;
using CpuMerge = RawLongLoRA.Kernels.Cpu.AttentionMerge;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>One part's (or the merged) attention output o [B, T, Hq, D] and its lse [B, Hq, T], contiguous float32.</summary>
public struct MergePart
{
    /// <summary>o, or a gradient of the same shape.</summary>
    public ArrayView<float> O;
    /// <summary>lse, or a gradient of the same shape.</summary>
    public ArrayView<float> Lse;
}

/// <summary>The dims of a merge: tokens T, query heads Hq, head dim D.</summary>
public struct MergeDims
{
    /// <summary>Tokens per sequence.</summary>
    public int T;
    /// <summary>Query heads.</summary>
    public int Hq;
    /// <summary>Head dim.</summary>
    public int D;
    /// <summary>1 where the backward has a gradient of the merged lse, 0 where it counts as zero.</summary>
    public int HasDlse;
}

/// <summary>
/// AttentionMerge and its backward, the CPU's definition (<see cref="CpuMerge"/>: its layout and weights are called, the
/// weights with <see cref="GpuMath"/>'s exp and log since the PTX backend has no MathF.Exp): one thread per element of
/// o forward, one per (row, head) backward, where a row's two dots over D feed the lse gradients.
/// </summary>
public static class AttentionMergeKernels
{
    /// <summary>
    /// o = wA·oA + wB·oB, one element per thread; the row's first thread writes the merged lse. Rows are max(D, 1)
    /// threads wide, so that lse is written where D = 0 too.
    /// </summary>
    [GpuKernel]
    public static void Forward(Index1D i, MergePart merged, MergePart a, MergePart b, MergeDims n)
    {
        int width = Math.Max(n.D, 1);
        long rh = i / width;
        int c = (int)(i - rh * width), h = (int)(rh % n.Hq);
        var x = new CpuMerge.Index(n.T, n.Hq, n.D);
        long r = rh / n.Hq, l = x.Lse(r, h), e = x.O(r, h) + c;
        var (lse, wA, wB) = CpuMerge.Weights<Hardware>(a.Lse[l], b.Lse[l]);
        if (c < n.D)
            merged.O[e] = wA * a.O[e] + wB * b.O[e];
        if (c == 0)
            merged.Lse[l] = lse;
    }

    /// <summary>Row (r, h) = i: doA = wA·dout, dlseA = wA·(dlse + Σ dout ∘ (oA − o)), and the same for B.</summary>
    [GpuKernel]
    public static void Backward(Index1D i, MergePart gradA, MergePart gradB, MergePart dout, MergePart a, MergePart b, MergePart merged, MergeDims n)
    {
        var x = new CpuMerge.Index(n.T, n.Hq, n.D);
        long r = i / n.Hq;
        int h = (int)(i - r * n.Hq);
        long l = x.Lse(r, h), row = x.O(r, h);
        float wA = CpuMerge.Weight<Hardware>(a.Lse[l], merged.Lse[l]), wB = CpuMerge.Weight<Hardware>(b.Lse[l], merged.Lse[l]);
        float g = n.HasDlse != 0 ? dout.Lse[l] : 0f;
        float dotA = 0f, dotB = 0f;
        for (int c = 0; c < n.D; c++)
        {
            long e = row + c;
            float dy = dout.O[e];
            dotA += dy * (a.O[e] - merged.O[e]);
            dotB += dy * (b.O[e] - merged.O[e]);
            gradA.O[e] = wA * dy;
            gradB.O[e] = wB * dy;
        }
        gradA.Lse[l] = wA * (g + dotA);
        gradB.Lse[l] = wB * (g + dotB);
    }

    /// <summary>The weights' exp and log on a GPU.</summary>
    private readonly struct Hardware : CpuMerge.IExpLog
    {
        public float Exp(float x) => GpuMath.Exp(x);

        public float Log(float x) => GpuMath.Log(x);
    }
}
