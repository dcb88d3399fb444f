namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Attention straight from its definition, in float64, for tests: the whole masked score matrix of each
/// (batch row, head), its softmax, and the backward through it. The mask is written here on its own,
/// from AttentionSpec's words, so the tests check <see cref="AttentionMask"/> too. Layouts as
/// <see cref="Attention"/>: q, o [B, T, Hq, D]; k, v [B, S, Hkv, D]; lse [B, Hq, T].
/// </summary>
public static class AttentionReference
{
    /// <summary>
    /// o [B, T, Hq, D] and lse [B, Hq, T] of the masked attention, computed in float64 from the whole score matrix;
    /// slow (O(T·S) memory per head): for tests and the bench's validation of small shapes.
    /// </summary>
    public static (float[] O, float[] Lse) Forward(float[] q, float[] k, float[] v, int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec)
    {
        var o = new float[b * t * hq * d];
        var lse = new float[b * hq * t];
        for (int r = 0; r < b; r++)
            for (int h = 0; h < hq; h++)
            {
                var (p, rowLse) = Probabilities(q, k, r, h, t, s, hq, hkv, d, spec);
                int kvh = h / (hq / hkv);
                for (int i = 0; i < t; i++)
                {
                    lse[(r * hq + h) * t + i] = (float)rowLse[i];
                    for (int c = 0; c < d; c++)
                    {
                        double sum = 0;
                        for (int j = 0; j < s; j++)
                            sum += p[i, j] * v[((r * s + j) * hkv + kvh) * d + c];
                        o[((r * t + i) * hq + h) * d + c] = (float)sum;
                    }
                }
            }
        return (o, lse);
    }

    /// <summary>
    /// With P the softmax and dP = dO Vᵀ: dV = Pᵀ dO, dS = P ∘ (dP − rowsum(P ∘ dP) + dlse),
    /// dQ = scale · dS K, dK = scale · dSᵀ Q (summed over the heads sharing a kv head); dlse [B, Hq, T] is
    /// lse's own gradient (null = 0), as lse = log Σ exp(scores) has ∂lse/∂score = P.
    /// </summary>
    public static (float[] Dq, float[] Dk, float[] Dv) Backward(float[] dout, float[] q, float[] k, float[] v, int b, int t, int s, int hq, int hkv, int d, AttentionSpec spec, float[]? dlse = null)
    {
        double scale = spec.ScaleFor(d);
        var dq = new double[q.Length];
        var dk = new double[k.Length];
        var dv = new double[v.Length];
        for (int r = 0; r < b; r++)
            for (int h = 0; h < hq; h++)
            {
                var (p, _) = Probabilities(q, k, r, h, t, s, hq, hkv, d, spec);
                int kvh = h / (hq / hkv);
                int Qi(int i, int c) => ((r * t + i) * hq + h) * d + c;
                int Kj(int j, int c) => ((r * s + j) * hkv + kvh) * d + c;
                var dp = new double[t, s];
                for (int i = 0; i < t; i++)
                    for (int j = 0; j < s; j++)
                        for (int c = 0; c < d; c++)
                        {
                            dp[i, j] += (double)dout[Qi(i, c)] * v[Kj(j, c)];
                            dv[Kj(j, c)] += p[i, j] * dout[Qi(i, c)];
                        }
                for (int i = 0; i < t; i++)
                {
                    double pdp = -(dlse?[(r * hq + h) * t + i] ?? 0);
                    for (int j = 0; j < s; j++)
                        pdp += p[i, j] * dp[i, j];
                    for (int j = 0; j < s; j++)
                    {
                        double dsij = p[i, j] * (dp[i, j] - pdp) * scale;
                        for (int c = 0; c < d; c++)
                        {
                            dq[Qi(i, c)] += dsij * k[Kj(j, c)];
                            dk[Kj(j, c)] += dsij * q[Qi(i, c)];
                        }
                    }
                }
            }
        return (ToFloat(dq), ToFloat(dk), ToFloat(dv));
    }

    /// <summary>
    /// Whether query i of batch row r in head h sees key j, by their positions in the row (QueryStart + i,
    /// KeyStart + j): causal, no packed sequence start after the key up to the query (starts index the
    /// stream of rows of RowLength tokens, else of the call's last position), and (S2-Attn) both in one
    /// group — groups of the second half of all the heads (global index HeadStart + h) shifted by G/2.
    /// </summary>
    public static bool Visible(AttentionSpec spec, int t, int s, int hq, int r, int h, int i, int j)
    {
        int query = spec.QueryStart + i, key = spec.KeyStart + j;
        if (key > query)
            return false;
        long row = (long)r * (spec.RowLength > 0 ? spec.RowLength : Math.Max(spec.QueryStart + t, spec.KeyStart + s));
        foreach (int start in AttentionMask.Starts(spec))
            if (start > row + key && start <= row + query)
                return false;
        int g = spec.GroupSize;
        if (g == 0)
            return true;
        int heads = spec.TotalHeads > 0 ? spec.TotalHeads : hq;
        int shift = spec.HeadStart + h >= heads / 2 ? g / 2 : 0;
        return (key + shift) / g == (query + shift) / g;
    }

    private static float[] ToFloat(double[] x) => Array.ConvertAll(x, e => (float)e);

    /// <summary>
    /// P [T, S] of one (batch row, head) and each row's natural-log logsumexp of scaled scores; a row that sees
    /// no key has P = 0 and lse = −∞.
    /// </summary>
    private static (double[,] P, double[] Lse) Probabilities(float[] q, float[] k, int r, int h, int t, int s, int hq, int hkv, int d, AttentionSpec spec)
    {
        double scale = spec.ScaleFor(d);
        int kvh = h / (hq / hkv);
        var p = new double[t, s];
        var lse = new double[t];
        for (int i = 0; i < t; i++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < s; j++)
            {
                double dot = 0;
                for (int c = 0; c < d; c++)
                    dot += (double)q[((r * t + i) * hq + h) * d + c] * k[((r * s + j) * hkv + kvh) * d + c];
                p[i, j] = Visible(spec, t, s, hq, r, h, i, j) ? dot * scale : double.NegativeInfinity;
                max = Math.Max(max, p[i, j]);
            }
            double sum = 0;
            for (int j = 0; j < s; j++)
                sum += double.IsNegativeInfinity(max) ? 0 : Math.Exp(p[i, j] - max);
            lse[i] = max + Math.Log(sum);
            for (int j = 0; j < s; j++)
                p[i, j] = double.IsNegativeInfinity(lse[i]) ? 0 : Math.Exp(p[i, j] - lse[i]);
        }
        return (p, lse);
    }
}
