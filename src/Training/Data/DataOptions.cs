namespace RawLongLoRA.Training;

/// <summary>How files become packed rows; see <see cref="PackedDataset"/> for the policies.</summary>
public sealed record DataOptions
{
    /// <summary>Tokens per row (max_length); at least 2, one token and the target after it.</summary>
    public required int MaxLength { get; init; }

    /// <summary>One sample per row (padded) instead of packing several into a row.</summary>
    public bool OnePerRow { get; init; }

    /// <summary>The jsonl field that holds a pretraining document's text.</summary>
    public string TextField { get; init; } = "text";

    /// <summary>SFT: the prompt tokens kept, at the least, when an answer is too long for a row (at least 1, so the answer's first token is predicted).</summary>
    public int MinPromptTokens { get; init; } = 1;

    internal void Validate()
    {
        if (MaxLength < 2)
            throw new ArgumentOutOfRangeException(nameof(MaxLength), MaxLength, $"max_length is {MaxLength}; a row needs at least 2 tokens (a token and its target)");
        if (MinPromptTokens < 1 || MinPromptTokens >= MaxLength)
            throw new ArgumentOutOfRangeException(nameof(MinPromptTokens), MinPromptTokens, $"min prompt tokens is {MinPromptTokens}; it must be in [1, max_length {MaxLength})");
    }
}
