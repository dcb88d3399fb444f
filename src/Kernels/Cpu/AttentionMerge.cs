namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Two parts of one attention — the same queries over disjoint sets of keys — merged by the online-softmax
/// rule, and its backward. Layouts as <see cref="Attention"/>: o [B, T, Hq, D], lse [B, Hq, T]. It is the
/// definition itself, a few flops per element of o, so it is its own reference; the tests check it against the
/// one-call attention and by finite differences.
/// </summary>
internal static unsafe class AttentionMerge
{
    /// <summary>lse = log(e^lseA + e^lseB) and o = wA·oA + wB·oB with w = e^(lse_part − lse); both parts −∞: o = 0, lse = −∞.</summary>
    public static void Forward(float* o, float* lse, float* oA, float* lseA, float* oB, float* lseB, int b, int t, int hq, int d)
    {
        var x = new Index(t, hq, d);
        CpuThreads.ForRange((long)b * t, 64, (start, end) =>
        {
            for (long r = start; r < end; r++)
                for (int h = 0; h < hq; h++)
                {
                    long l = x.Lse(r, h), row = x.O(r, h);
                    var (merged, wA, wB) = Weights<MathFExpLog>(lseA[l], lseB[l]);
                    lse[l] = merged;
                    for (int c = 0; c < d; c++)
                        o[row + c] = wA * oA[row + c] + wB * oB[row + c];
                }
        });
    }

    /// <summary>doA = wA·dout, dlseA = wA·(dlse + rowsum(dout ∘ (oA − o))), and the same for B; dlse null = 0.</summary>
    public static void Backward(float* doA, float* dlseA, float* doB, float* dlseB, float* dout, float* dlse, float* oA, float* lseA, float* oB, float* lseB, float* o, float* lse, int b, int t, int hq, int d)
    {
        var x = new Index(t, hq, d);
        CpuThreads.ForRange((long)b * t, 64, (start, end) =>
        {
            for (long r = start; r < end; r++)
                for (int h = 0; h < hq; h++)
                {
                    long l = x.Lse(r, h), row = x.O(r, h);
                    float wA = Weight<MathFExpLog>(lseA[l], lse[l]), wB = Weight<MathFExpLog>(lseB[l], lse[l]), g = dlse == null ? 0f : dlse[l];
                    float dotA = 0, dotB = 0;
                    for (int c = 0; c < d; c++)
                    {
                        float dy = dout[row + c];
                        dotA += dy * (oA[row + c] - o[row + c]);
                        dotB += dy * (oB[row + c] - o[row + c]);
                        doA[row + c] = wA * dy;
                        doB[row + c] = wB * dy;
                    }
                    dlseA[l] = wA * (g + dotA);
                    dlseB[l] = wB * (g + dotB);
                }
        });
    }

    /// <summary>The merged lse and each part's weight in it, with <typeparamref name="TMath"/>'s exp and log (the GPU kernels' own there).</summary>
    internal static (float Lse, float WA, float WB) Weights<TMath>(float a, float b) where TMath : struct, IExpLog
    {
        float m = MathF.Max(a, b);
        if (float.IsNegativeInfinity(m))
            return (float.NegativeInfinity, 0f, 0f);
        var math = default(TMath);
        float ea = math.Exp(a - m), eb = math.Exp(b - m), sum = ea + eb;
        return (m + math.Log(sum), ea / sum, eb / sum);
    }

    /// <summary>A part's weight e^(part − merged): 0 where the part saw nothing (so also where nothing was seen at all).</summary>
    internal static float Weight<TMath>(float part, float merged) where TMath : struct, IExpLog
        => float.IsNegativeInfinity(part) ? 0f : default(TMath).Exp(part - merged);

    /// <summary>exp and log as a struct type argument, so that the weights are stated once for the CPU and the GPU kernels.</summary>
    internal interface IExpLog
    {
        float Exp(float x);

        float Log(float x);
    }

    private readonly struct MathFExpLog : IExpLog
    {
        public float Exp(float x) => MathF.Exp(x);

        public float Log(float x) => MathF.Log(x);
    }

    /// <summary>Where row r of the B·T stream, head h, starts in o and sits in lse.</summary>
    internal readonly struct Index(int t, int hq, int d)
    {
        public long O(long r, int h) => (r * hq + h) * d;

        public long Lse(long r, int h) => ((r / t) * hq + h) * (long)t + r % t;
    }
}
