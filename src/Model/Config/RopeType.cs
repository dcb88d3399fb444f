namespace RawLongLoRA.Model;

/// <summary>The RoPE scaling kinds of Hugging Face transformers' rope utilities.</summary>
public enum RopeType
{
    /// <summary>Plain RoPE: inv_freq = theta^(−2i/d).</summary>
    Default,

    /// <summary>Position interpolation: every frequency divided by the factor (LongLoRA's choice).</summary>
    Linear,

    /// <summary>Dynamic NTK: theta grows with the sequence length once it passes max_position_embeddings.</summary>
    Dynamic,

    /// <summary>YaRN: interpolation of the low frequencies only, with a ramp between, and an attention factor.</summary>
    Yarn,

    /// <summary>Llama 3.1: low frequencies divided by the factor, high ones kept, smoothed between.</summary>
    Llama3,

    /// <summary>LongRoPE: one factor per frequency, short or long by the sequence length.</summary>
    LongRope,
}

/// <summary>The config.json names of <see cref="RopeType"/> ("yarn", "llama3", ...), both ways.</summary>
public static class RopeTypes
{
    private static readonly (RopeType Type, string Name)[] Names =
    [
        (RopeType.Default, "default"), (RopeType.Linear, "linear"), (RopeType.Dynamic, "dynamic"),
        (RopeType.Yarn, "yarn"), (RopeType.Llama3, "llama3"), (RopeType.LongRope, "longrope"),
    ];

    /// <summary>The name config.json uses ("rope_type": "yarn").</summary>
    public static string JsonName(this RopeType t) => Names.First(n => n.Type == t).Name;

    /// <summary>
    /// The kind config.json calls <paramref name="name"/> (exact, lower case); false for a name transformers does not
    /// know.
    /// </summary>
    public static bool TryParse(string name, out RopeType t)
    {
        foreach (var n in Names)
            if (n.Name == name)
            {
                t = n.Type;
                return true;
            }
        t = default;
        return false;
    }

    /// <summary>"default, linear, dynamic, yarn, llama3, longrope", for messages.</summary>
    public static string Supported => string.Join(", ", Names.Select(n => n.Name));

    /// <summary>Kinds defined relative to the pretraining length (original_max_position_embeddings).</summary>
    public static bool ScalesFromOriginalLength(this RopeType t) => t is RopeType.Yarn or RopeType.Llama3 or RopeType.LongRope;
}
