namespace RawLongLoRA;

/// <summary>
/// A Philox stream: a seed (the key) and a counter offset that advances by the blocks each draw
/// uses, so that draws are reproducible and do not overlap. Checkpointed layers save and restore
/// <see cref="Offset"/> to replay dropout exactly.
/// </summary>
public sealed class Generator(ulong seed = 0)
{
    /// <summary>
    /// The stream random tensors draw from when no generator is given (weight init, dropout); reseed it with
    /// <see cref="ManualSeed"/> for a reproducible run.
    /// </summary>
    public static Generator Default { get; } = new();

    /// <summary>The Philox key: two generators with the same seed and offset produce the same numbers.</summary>
    public ulong Seed { get; private set; } = seed;
    /// <summary>
    /// The next unused Philox counter block. Save it and set it back to replay the same draws (a checkpointed layer's
    /// dropout, a resumed run).
    /// </summary>
    public ulong Offset { get; set; }

    /// <summary>Starts the stream again at <paramref name="seed"/>, offset 0, as torch.manual_seed.</summary>
    public void ManualSeed(ulong seed)
    {
        Seed = seed;
        Offset = 0;
    }

    /// <summary>Reserves counter blocks for <paramref name="numel"/> numbers and returns the first.</summary>
    public ulong Next(long numel)
    {
        ulong start = Offset;
        Offset += (ulong)((numel + 3) / 4);
        return start;
    }
}
