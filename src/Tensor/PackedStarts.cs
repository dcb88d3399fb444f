namespace RawLongLoRA;

/// <summary>
/// The packed-sample starts of <see cref="AttentionSpec.SequenceStarts"/> as a tensor: made once per batch on the
/// device of its other tensors (ids, positions, targets) — one host → device copy, not one per attention call —
/// after their values are checked here, on the host, where they still are.
/// </summary>
public static class PackedStarts
{
    /// <summary>
    /// An I32 [n] tensor of <paramref name="starts"/> on <paramref name="device"/> (default: the cpu), for a stream of
    /// <paramref name="tokens"/> tokens (B · RowLength); throws an <see cref="ArgumentException"/> naming
    /// AttentionSpec.SequenceStarts unless every start lies in [0, tokens) and each is past the one before.
    /// </summary>
    public static Tensor Of(int[] starts, long tokens, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(starts);
        Validate(starts, tokens);
        return Tensor.FromArray(starts, device: device);
    }

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> naming AttentionSpec.SequenceStarts unless every start lies in the
    /// stream [0, <paramref name="tokens"/>) and each is past the one before.
    /// </summary>
    internal static void Validate(ReadOnlySpan<int> starts, long tokens)
    {
        for (int i = 0; i < starts.Length; i++)
        {
            if (starts[i] < 0 || starts[i] >= tokens)
                throw new ArgumentException($"AttentionSpec.SequenceStarts[{i}] = {starts[i]} is outside the B·RowLength stream [0, {tokens})", nameof(starts));
            if (i > 0 && starts[i] <= starts[i - 1])
                throw new ArgumentException($"AttentionSpec.SequenceStarts must be strictly ascending, but [{i - 1}] = {starts[i - 1]} and [{i}] = {starts[i]}", nameof(starts));
        }
    }
}
