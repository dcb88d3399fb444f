namespace RawLongLoRA.Model;

/// <summary>
/// RoPE inverse frequencies and attention factor of every scaling kind, as transformers' rope
/// utilities compute them (the _compute_*_parameters functions and the dynamic / longrope updates).
/// transformers computes in float32 tensors; each step here is the same float32 operation in the
/// same order, because at 32K positions the cos/sin tables are only as close as the roundings of
/// inv_freq. One difference remains: θ^(2i/d) is rounded correctly here, where torch's vectorised
/// pow (SLEEF, 1 ulp) is off by one ulp for about one frequency in a hundred.
/// </summary>
public static class RopeScaling
{
    /// <summary>
    /// inv_freq [headDim / 2] and the factor cos/sin are multiplied by, for a sequence of
    /// <paramref name="seqLen"/> tokens (only dynamic and longrope depend on it).
    /// <paramref name="maxPositionEmbeddings"/> is the config's: dynamic scales from it, and yarn and
    /// longrope fall back to it where the original length or the factor is not given.
    /// </summary>
    public static (float[] InvFreq, float AttentionFactor) Compute(RopeConfig rope, int headDim, int maxPositionEmbeddings, int seqLen)
    {
        if (headDim < 4 || headDim % 2 != 0)
            throw new ArgumentException($"rope: head_dim must be even and at least 4, got {headDim}", nameof(headDim));
        return rope.Type switch
        {
            RopeType.Default => (Plain((float)rope.Theta, headDim), 1f),
            RopeType.Linear => (Linear(rope, headDim), 1f),
            RopeType.Dynamic => (DynamicNtk(rope, headDim, maxPositionEmbeddings, seqLen), 1f),
            RopeType.Yarn => Yarn(rope, headDim, maxPositionEmbeddings),
            RopeType.Llama3 => (Llama3(rope, headDim, maxPositionEmbeddings), 1f),
            RopeType.LongRope => LongRope(rope, headDim, maxPositionEmbeddings, seqLen),
            _ => throw new ArgumentOutOfRangeException(nameof(rope), rope.Type, "rope: unknown scaling type"),
        };
    }

    /// <summary>θ^(2i/d) for i &lt; d/2: the float32 exponent (2i as float / d), then the power, rounded once.</summary>
    private static float[] Powers(float theta, int dim)
    {
        var p = new float[dim / 2];
        for (int i = 0; i < p.Length; i++)
            p[i] = (float)Math.Pow(theta, (float)(2 * i) / dim);
        return p;
    }

    private static float[] Plain(float theta, int dim) => Array.ConvertAll(Powers(theta, dim), p => 1f / p);

    private static float[] Linear(RopeConfig rope, int dim)
    {
        float factor = (float)Need(rope.Factor, rope, "factor");
        return Array.ConvertAll(Plain((float)rope.Theta, dim), f => f / factor);
    }

    /// <summary>
    /// Up to max_position_embeddings the frequencies are the plain ones; past it θ grows to
    /// θ·(factor·L/max − (factor − 1))^(d/(d−2)). transformers' update gets L as a tensor, so that
    /// arithmetic is float32, except the power, which torch takes in double.
    /// </summary>
    private static float[] DynamicNtk(RopeConfig rope, int dim, int maxPositions, int seqLen)
    {
        double factor = Need(rope.Factor, rope, "factor");
        if (seqLen <= maxPositions)
            return Plain((float)rope.Theta, dim);
        float scale = (float)factor * seqLen / maxPositions - (float)(factor - 1);
        float theta = (float)rope.Theta * (float)Math.Pow(scale, dim / (double)(dim - 2));
        return Plain(theta, dim);
    }

    /// <summary>
    /// YaRN: frequencies that turn fewer than beta_slow times over the original context are divided
    /// by the factor, those that turn more than beta_fast times are kept, with a linear ramp over the
    /// dimensions between; cos/sin are scaled by 0.1·ln(factor) + 1 (or the mscale ratio, or the
    /// attention_factor given).
    /// </summary>
    private static (float[], float) Yarn(RopeConfig rope, int dim, int maxPositions)
    {
        double theta = rope.Theta;
        int original = rope.OriginalMaxPositionEmbeddings ?? maxPositions;
        double factor = rope.Factor ?? (double)maxPositions / original;
        double attention = rope.AttentionFactor ?? (rope is { Mscale: not (null or 0), MscaleAllDim: not (null or 0) }
            ? Mscale(factor, rope.Mscale.Value) / Mscale(factor, rope.MscaleAllDim.Value)
            : Mscale(factor, 1));
        // Python's `or` defaults: a zero counts as unset.
        double betaFast = rope.BetaFast is double bf and not 0 ? bf : 32;
        double betaSlow = rope.BetaSlow is double bs and not 0 ? bs : 1;

        double CorrectionDim(double rotations) => dim * Math.Log(original / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        double low = CorrectionDim(betaFast), high = CorrectionDim(betaSlow);
        if (rope.Truncate ?? true)
            (low, high) = (Math.Floor(low), Math.Ceiling(high));
        (low, high) = (Math.Max(low, 0), Math.Min(high, dim - 1));
        if (low == high)
            high += 0.001;

        var pos = Powers((float)theta, dim);
        var inv = new float[dim / 2];
        float lowF = (float)low, span = (float)(high - low), factorF = (float)factor;
        for (int i = 0; i < inv.Length; i++)
        {
            float ramp = Math.Clamp((i - lowF) / span, 0f, 1f);
            float extrapolation = 1f - ramp;
            inv[i] = 1f / (factorF * pos[i]) * (1f - extrapolation) + 1f / pos[i] * extrapolation;
        }
        return (inv, (float)attention);
    }

    private static double Mscale(double scale, double m) => scale <= 1 ? 1.0 : 0.1 * m * Math.Log(scale) + 1.0;

    /// <summary>
    /// Llama 3.1: wavelengths longer than original / low_freq_factor are divided by the factor,
    /// shorter than original / high_freq_factor kept, and those between interpolated smoothly.
    /// </summary>
    private static float[] Llama3(RopeConfig rope, int dim, int maxPositions)
    {
        float factor = (float)Need(rope.Factor, rope, "factor");
        double lo = Need(rope.LowFreqFactor, rope, "low_freq_factor"), hi = Need(rope.HighFreqFactor, rope, "high_freq_factor");
        double original = rope.OriginalMaxPositionEmbeddings ?? maxPositions;
        float lowWavelen = (float)(original / lo), highWavelen = (float)(original / hi);
        float twoPi = (float)(2 * Math.PI), originalF = (float)original, loF = (float)lo, spanF = (float)(hi - lo);
        var inv = Plain((float)rope.Theta, dim);
        for (int i = 0; i < inv.Length; i++)
        {
            // torch evaluates `c / t` for a scalar c as reciprocal(t) · c.
            float wavelen = 1f / inv[i] * twoPi;
            float scaled = wavelen > lowWavelen ? inv[i] / factor : inv[i];
            float smooth = (1f / wavelen * originalF - loF) / spanF;
            float smoothed = (1f - smooth) * scaled / factor + smooth * scaled;
            bool medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
            inv[i] = medium ? smoothed : scaled;
        }
        return inv;
    }

    /// <summary>
    /// LongRoPE: one divisor per frequency, the long ones once the sequence passes the original
    /// length; cos/sin scaled by sqrt(1 + ln(factor) / ln(original)) unless attention_factor is given,
    /// with factor = max_position_embeddings / original where the config gives none.
    /// </summary>
    private static (float[], float) LongRope(RopeConfig rope, int dim, int maxPositions, int seqLen)
    {
        int original = rope.OriginalMaxPositionEmbeddings ?? maxPositions;
        double factor = rope.Factor ?? (double)maxPositions / original;
        double attention = rope.AttentionFactor ?? (factor <= 1 ? 1.0 : Math.Sqrt(1 + Math.Log(factor) / Math.Log(original)));
        var ext = seqLen > original ? Need(rope.LongFactor, rope, "long_factor") : Need(rope.ShortFactor, rope, "short_factor");
        if (ext.Length != dim / 2)
            throw new ArgumentException($"rope: longrope factors must have head_dim / 2 = {dim / 2} entries, got {ext.Length}");
        var pos = Powers((float)rope.Theta, dim);
        var inv = new float[dim / 2];
        for (int i = 0; i < inv.Length; i++)
            inv[i] = 1f / ((float)ext[i] * pos[i]);
        return (inv, (float)attention);
    }

    private static T Need<T>(T? value, RopeConfig rope, string key) where T : struct =>
        value ?? throw new ArgumentException($"rope: {rope.Type.JsonName()} scaling needs '{key}'");

    private static T Need<T>(T? value, RopeConfig rope, string key) where T : class =>
        value ?? throw new ArgumentException($"rope: {rope.Type.JsonName()} scaling needs '{key}'");
}
