namespace RawLongLoRA.Training;

/// <summary>
/// AdamW's hyper-parameters, torch.optim.AdamW's defaults except <see cref="WeightDecay"/>, which is 0 as
/// in Hugging Face's TrainingArguments and LongLoRA's recipes (torch's is 0.01). Betas, eps and decay are
/// double, like torch's Python floats, so that 1 − β comes out as torch's; the lr is float, as a schedule gives it.
/// </summary>
public sealed record AdamWOptions
{
    /// <summary>The lr <see cref="AdamW.Step()"/> uses; a schedule passes its own to <see cref="AdamW.Step(float)"/>.</summary>
    public float Lr { get; init; } = 1e-3f;

    /// <summary>β1, the decay of the gradient's running mean.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>β2, the decay of the squared gradient's running mean.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>ε, added to √v in the denominator.</summary>
    public double Eps { get; init; } = 1e-8;

    /// <summary>Decoupled weight decay: p ← p(1 − lr·wd) before the Adam update.</summary>
    public double WeightDecay { get; init; }

    /// <summary>
    /// Which parameters (name, tensor) get <see cref="WeightDecay"/>; null decays all of them, as torch.optim.AdamW.
    /// <see cref="Trainer"/> uses <see cref="ExceptBiasesNormsEmbedding"/>; <see cref="MatricesOnly"/> decides by shape.
    /// </summary>
    public Func<string, Tensor, bool>? Decays { get; init; }

    /// <summary>Decay only parameters of rank 2 or more, so 1-D biases and norm weights keep their size.</summary>
    public static bool MatricesOnly(string name, Tensor param) => param.Rank >= 2;

    /// <summary>
    /// Decay all but biases, norm weights and the token embedding, by their Hugging Face names: transformers'
    /// Trainer spares biases and norms (get_decay_parameter_names); the embedding is spared too, as minGPT does,
    /// because decay pulls rare tokens' rows, which seldom get a gradient, towards zero.
    /// </summary>
    public static bool ExceptBiasesNormsEmbedding(string name, Tensor param)
    {
        foreach (var part in name.Split('.'))
            if (part == "bias" || part == "norm" || part.EndsWith("_norm", StringComparison.Ordinal) || part.Contains("layernorm", StringComparison.Ordinal)
                || part.Contains("rmsnorm", StringComparison.Ordinal) || part.StartsWith("embed", StringComparison.Ordinal))
                return false;
        return true;
    }
}
