namespace RawLongLoRA;

/// <summary>
/// A Philox stream: a seed (the key) and a counter offset that advances by the blocks each draw
/// uses, so that draws are reproducible and do not overlap. Checkpointed layers save and restore
/// <see cref="Offset"/> to replay dropout exactly.
/// </summary>
public sealed class Generator(ulong seed = 0)
{
    public static Generator Default { get; } = new();

    public ulong Seed { get; private set; } = seed;
    public ulong Offset { get; set; }

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
