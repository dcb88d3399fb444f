namespace RawLongLoRA.Model;

/// <summary>
/// RoPE as config.json states it: the base and the scaling kind with its parameters, each null where
/// the file leaves it out (the defaults of the kind apply: see <see cref="RopeScaling"/>). After
/// <see cref="ModelConfig.Parse"/>, <see cref="OriginalMaxPositionEmbeddings"/> is always set for the
/// kinds that need it, as transformers' standardisation sets it (from max_position_embeddings where
/// the file has none), so that a config rewritten with a longer max_position_embeddings keeps its
/// meaning. Build a changed one with `with` and write it with <see cref="ModelConfig.WithRope"/>.
/// </summary>
public sealed record RopeConfig
{
    /// <summary>The scaling kind (rope_type); Default for plain RoPE.</summary>
    public RopeType Type { get; init; } = RopeType.Default;

    /// <summary>rope_theta, the base of the frequencies.</summary>
    public double Theta { get; init; } = 10000.0;

    /// <summary>Context scale: linear, dynamic, yarn and llama3 need it; longrope may take it.</summary>
    public double? Factor { get; init; }

    /// <summary>The pretraining context length (yarn, llama3, longrope).</summary>
    public int? OriginalMaxPositionEmbeddings { get; init; }

    /// <summary>YaRN: rotations per original context above which a frequency is kept (default 32).</summary>
    public double? BetaFast { get; init; }

    /// <summary>YaRN: rotations below which a frequency is fully interpolated (default 1).</summary>
    public double? BetaSlow { get; init; }

    /// <summary>YaRN: with <see cref="MscaleAllDim"/>, the attention factor is mscale(factor, Mscale) / mscale(factor, MscaleAllDim).</summary>
    public double? Mscale { get; init; }

    /// <summary>YaRN: the mscale of the denominator in the attention factor (see <see cref="Mscale"/>).</summary>
    public double? MscaleAllDim { get; init; }

    /// <summary>YaRN and longrope: the factor cos and sin are multiplied by, where given.</summary>
    public double? AttentionFactor { get; init; }

    /// <summary>YaRN: round the correction range to whole dimensions (default true).</summary>
    public bool? Truncate { get; init; }

    /// <summary>Llama 3: wavelengths above original / LowFreqFactor are divided by the factor.</summary>
    public double? LowFreqFactor { get; init; }

    /// <summary>Llama 3: wavelengths below original / HighFreqFactor are kept.</summary>
    public double? HighFreqFactor { get; init; }

    /// <summary>LongRoPE: per-frequency divisors (head_dim / 2 each) for sequences up to, and past, the original length.</summary>
    public double[]? ShortFactor { get; init; }

    /// <summary>
    /// LongRoPE: per-frequency divisors for sequences past the original length (see <see cref="ShortFactor"/>).
    /// </summary>
    public double[]? LongFactor { get; init; }
}
