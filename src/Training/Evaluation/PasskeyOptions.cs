namespace RawLongLoRA.Training;

/// <summary>What <see cref="Passkey"/> asks: prompts of each length (in tokens) with the key at each depth, so many trials a cell.</summary>
public sealed record PasskeyOptions
{
    /// <summary>Prompt lengths in tokens, BOS included.</summary>
    public IReadOnlyList<int> Lengths { get; init; } = [];

    /// <summary>Where the key's line goes, as a fraction of the filler (0 first, 1 last); null draws a depth per trial, as LongLoRA does.</summary>
    public IReadOnlyList<double?> Depths { get; init; } = [0, 0.25, 0.5, 0.75, 1];

    /// <summary>Trials per (length, depth) cell, each with its own key.</summary>
    public int Trials { get; init; } = 5;

    /// <summary>With the length, the depth's index and the trial, fixes each trial's key (and drawn depth).</summary>
    public ulong Seed { get; init; }

    /// <summary>The words of the prompt (task line, filler, question) and the key's digits.</summary>
    public PasskeyPrompt Prompt { get; init; } = new();

    /// <summary>Greedy tokens generated past the key's own tokens (a space or a stray token before it).</summary>
    public int ExtraNewTokens { get; init; } = 2;

    /// <summary>Ask at lengths beyond the model's context, unscaled, instead of refusing.</summary>
    public bool AllowBeyondContext { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        if (Lengths.Count == 0 || Lengths.Any(l => l < 1))
            throw new ArgumentException($"passkey: lengths must be positive token counts, got [{string.Join(", ", Lengths)}]");
        if (Depths.Count == 0 || Depths.Any(d => d is not null && !(d >= 0 && d <= 1)))
            throw new ArgumentException($"passkey: depths must be in [0, 1] (or random), got [{string.Join(", ", Depths.Select(d => d?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "random"))}]");
        if (Trials < 1)
            throw new ArgumentException($"passkey: trials must be at least 1, got {Trials}");
        if (Prompt.KeyDigits is < 1 or > 18)
            throw new ArgumentException($"passkey: a key has 1 to 18 digits, got {Prompt.KeyDigits}");
        if (ExtraNewTokens < 0)
            throw new ArgumentException($"passkey: extra new tokens must be ≥ 0, got {ExtraNewTokens}");
    }
}
