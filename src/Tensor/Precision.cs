namespace RawLongLoRA;

/// <summary>The precision matrix products and attention compute in (see <see cref="Autocast"/>).</summary>
public enum Precision : byte
{
    /// <summary>float32 operands, float32 accumulation.</summary>
    F32,
    /// <summary>
    /// Operands rounded to bfloat16 (to nearest even), products accumulated in float32, results float32.
    /// </summary>
    Bf16,
}

/// <summary>Spellings of <see cref="Precision"/> for the command line and logs.</summary>
public static class PrecisionNames
{
    /// <summary>"fp32" or "bf16", as <c>--precision</c> takes them.</summary>
    public static string Name(this Precision p) => p == Precision.Bf16 ? "bf16" : "fp32";

    /// <summary>Parses "fp32" or "bf16" (case-insensitive); null otherwise.</summary>
    public static Precision? Parse(string? s) => s?.ToLowerInvariant() switch
    {
        "fp32" => Precision.F32,
        "bf16" => Precision.Bf16,
        _ => null,
    };
}
