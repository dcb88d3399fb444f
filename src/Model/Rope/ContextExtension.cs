namespace RawLongLoRA.Model;

/// <summary>
/// The config of a model stretched to a longer context by RoPE scaling. Linear (position
/// interpolation) is LongLoRA's: factor = ⌈target / original⌉ as its training script rounds it;
/// dynamic NTK and YaRN take factor = target / original. Dynamic NTK keeps max_position_embeddings at
/// the original length, because transformers scales it only for sequences past that length. The
/// context grows only: a target the model already reaches leaves the config as it is.
/// </summary>
public static class ContextExtension
{
    /// <summary>The scalings a context extension may use: linear, dynamic and yarn.</summary>
    public static readonly IReadOnlyList<RopeType> Kinds = [RopeType.Linear, RopeType.Dynamic, RopeType.Yarn];

    /// <paramref name="config"/> stretched to reach <paramref name="targetContext"/> tokens by
    /// <paramref name="kind"/> scaling (its rope_scaling and max_position_embeddings changed); the same config when it reaches
    /// that far already.
    public static ModelConfig Extend(ModelConfig config, int targetContext, RopeType kind = RopeType.Linear)
    {
        if (targetContext < 1)
            throw new ArgumentOutOfRangeException(nameof(targetContext), targetContext, "context: the target context must be positive");
        if (!Kinds.Contains(kind))
            throw new ArgumentException($"context: extending by {kind.JsonName()} scaling is not supported; use {string.Join(", ", Kinds.Select(k => k.JsonName()))}, or set rope_scaling in config.json", nameof(kind));
        if (targetContext <= Reach(config))
            return config;
        if (config.Rope.Type != RopeType.Default)
            throw new ArgumentException($"context: {config.SourceName} already scales RoPE ({config.Rope.Type.JsonName()}, up to {config.MaxPositionEmbeddings} tokens); " +
                                        $"set rope_scaling for {targetContext} tokens in config.json instead", nameof(config));
        int original = config.MaxPositionEmbeddings;
        double factor = kind == RopeType.Linear ? Math.Ceiling((double)targetContext / original) : (double)targetContext / original;
        var rope = config.Rope with { Type = kind, Factor = factor, OriginalMaxPositionEmbeddings = kind == RopeType.Yarn ? original : null };
        int maxPositions = kind switch { RopeType.Linear => (int)(factor * original), RopeType.Dynamic => original, _ => targetContext };
        return config.WithRope(rope, maxPositions);
    }

    /// <summary>
    /// The longest context a config is meant for: max_position_embeddings, or for dynamic NTK that
    /// length times the factor (it rescales RoPE itself for longer sequences).
    /// </summary>
    public static int Reach(ModelConfig config) => config.Rope.Type == RopeType.Dynamic
        ? (int)Math.Round(config.MaxPositionEmbeddings * (config.Rope.Factor ?? 1))
        : config.MaxPositionEmbeddings;
}
