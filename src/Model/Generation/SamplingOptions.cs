namespace RawLongLoRA.Model;

/// <summary>How to pick each next token. Temperature 0 is greedy; TopK 0 and TopP 1 are off.</summary>
public sealed record SamplingOptions
{
    /// <summary>Tokens to generate at most, stop tokens aside.</summary>
    public int MaxNewTokens { get; init; } = 128;
    /// <summary>Softmax temperature; 0 is greedy (argmax).</summary>
    public float Temperature { get; init; }
    /// <summary>Keep only the k most likely tokens before sampling; 0 keeps all.</summary>
    public int TopK { get; init; }
    /// <summary>
    /// Keep the smallest set of most likely tokens whose probability reaches p (nucleus sampling); 1 keeps all.
    /// </summary>
    public float TopP { get; init; } = 1f;
    /// <summary>The Philox seed of the draws: the same seed, prompt and options give the same text.</summary>
    public ulong Seed { get; init; }

    /// <summary>Generation stops after emitting one of these (the model's EOS ids, usually).</summary>
    public IReadOnlyCollection<int> StopTokens { get; init; } = [];

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        if (MaxNewTokens < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "max_new_tokens must be ≥ 0");
        if (Temperature < 0 || float.IsNaN(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "temperature must be ≥ 0");
        if (TopK < 0)
            throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "top_k must be ≥ 0");
        if (!(TopP > 0 && TopP <= 1))
            throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "top_p must be in (0, 1]");
    }
}
