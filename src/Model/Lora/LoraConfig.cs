namespace RawLongLoRA.Model;

/// <summary>
/// What an adapter is: rank, alpha, dropout, rsLoRA, DoRA, the linear modules it goes on, and
/// LongLoRA's trainable extras. Field names follow PEFT's LoraConfig where it has one.
/// </summary>
public sealed record LoraConfig
{
    /// <summary>The attention projections: what LongLoRA (and PEFT's default for Llama) adapts.</summary>
    public static readonly IReadOnlyList<string> AttentionProjections = ["q_proj", "k_proj", "v_proj", "o_proj"];

    /// <summary>The MLP projections of the Llama / Qwen families.</summary>
    public static readonly IReadOnlyList<string> MlpProjections = ["gate_proj", "up_proj", "down_proj"];

    /// <summary>The special target that means every linear layer but the LM head, as PEFT's "all-linear".</summary>
    public const string AllLinear = "all-linear";

    /// <summary>r: the rank of each update B·A (PEFT's default 8).</summary>
    public int R { get; init; } = 8;
    /// <summary>lora_alpha: the update is scaled by alpha / r (PEFT's default 8; 16 here, LongLoRA's).</summary>
    public double Alpha { get; init; } = 16;
    /// <summary>lora_dropout: dropout on the adapter's input while training (0 = none).</summary>
    public float Dropout { get; init; }

    /// <summary>rsLoRA: scale alpha/√r instead of alpha/r, so that high ranks keep learning.</summary>
    public bool UseRsLora { get; init; }

    /// <summary>DoRA: a trainable magnitude per output row over the direction W + s·BA.</summary>
    public bool UseDora { get; init; }

    /// <summary>Module names (the last part of the key, e.g. "q_proj"), or <see cref="AllLinear"/>.</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = AttentionProjections;

    /// <summary>
    /// Base parameters trained in full beside the adapter, PEFT's modules_to_save: "embed_tokens"
    /// and "norm" (which, by PEFT's suffix match, is every RMSNorm) are LongLoRA's "+".
    /// </summary>
    public IReadOnlyList<string> ModulesToSave { get; init; } = [];

    /// <summary>The factor on BA: alpha/r, or alpha/√r with rsLoRA.</summary>
    public double Scale => UseRsLora ? Alpha / Math.Sqrt(R) : Alpha / R;

    /// <summary>LongLoRA's trainable extras: the token embedding and every norm.</summary>
    public static readonly IReadOnlyList<string> EmbeddingAndNorms = ["embed_tokens", "norm"];

    /// <summary>Throws naming the field (PEFT's name) when a value cannot be used, in one line.</summary>
    public void Validate()
    {
        if (R < 1)
            throw new ArgumentException($"lora: r must be at least 1, got {R}");
        if (!(Alpha > 0) || double.IsInfinity(Alpha))
            throw new ArgumentException($"lora: lora_alpha must be a positive number, got {Alpha}");
        if (Dropout is < 0 or >= 1 || float.IsNaN(Dropout))
            throw new ArgumentException($"lora: lora_dropout must be in [0, 1), got {Dropout}");
        if (TargetModules.Count == 0)
            throw new ArgumentException("lora: target_modules is empty; expected module names such as q_proj,k_proj,v_proj,o_proj or all-linear");
    }

    /// <summary>Whether the linear layer at <paramref name="key"/> ("model.layers.0.self_attn.q_proj") gets an adapter.</summary>
    public bool Targets(string key)
    {
        if (TargetModules.Contains(AllLinear))
            return key != "lm_head";
        string last = key[(key.LastIndexOf('.') + 1)..];
        return TargetModules.Contains(last) || TargetModules.Contains(key);
    }

    /// <summary>
    /// Whether the module at <paramref name="key"/> ("model.layers.0.input_layernorm") is trained in
    /// full: PEFT's rule, a plain suffix match of the key, so "norm" takes every *norm module.
    /// </summary>
    public bool Saves(string key) => ModulesToSave.Any(m => key.EndsWith(m, StringComparison.Ordinal));
}
