namespace RawLongLoRA.Model;

/// <summary>
/// Picks a token from one row of logits: greedy (argmax, first on ties) at temperature 0, else a draw
/// from softmax(logits / T) restricted to the top-k and then to the smallest set whose probability
/// reaches top-p (as transformers' TopK/TopP warpers). Draw n uses Philox (seed, n): reproducible.
/// </summary>
public static class Sampler
{
    /// <summary>
    /// The token picked from <paramref name="logits"/> (one row, [vocab]) by <paramref name="o"/>;
    /// <paramref name="draw"/> numbers the draw within the seed's stream (the token's index in the generation), so the same
    /// seed and draw give the same token.
    /// </summary>
    public static int Pick(ReadOnlySpan<float> logits, SamplingOptions o, long draw)
    {
        if (o.Temperature == 0)
            return ArgMax(logits);
        var order = Enumerable.Range(0, logits.Length).ToArray();
        var values = logits.ToArray();
        Array.Sort(order, (a, b) => values[b].CompareTo(values[a]) is var c && c != 0 ? c : a.CompareTo(b));
        int keep = o.TopK > 0 ? Math.Min(o.TopK, order.Length) : order.Length;
        double max = values[order[0]];
        var p = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++)
            sum += p[i] = Math.Exp((values[order[i]] - max) / o.Temperature);
        double cumulative = 0;
        int nucleus = keep;
        for (int i = 0; i < keep; i++)
        {
            cumulative += p[i] / sum;
            if (cumulative >= o.TopP)
            {
                nucleus = i + 1;
                break;
            }
        }
        double mass = p.Take(nucleus).Sum();
        double u = Philox.Sample(RandomKind.Uniform, o.Seed, 0, draw, 0, 1) * mass;
        for (int i = 0; i < nucleus; i++)
        {
            u -= p[i];
            if (u < 0)
                return order[i];
        }
        return order[nucleus - 1];
    }

    /// <summary>The index of the largest logit (the first on ties): greedy decoding.</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best])
                best = i;
        return best;
    }
}
