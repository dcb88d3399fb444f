namespace RawLongLoRA.Training;

/// <summary>
/// One batch of packed rows, flattened row-major: <see cref="Rows"/> × <see cref="Length"/> tokens.
/// Targets are the next token of the same document, or <see cref="IgnoreIndex"/> where there is none
/// (a document's last token, padding) or where the loss is masked (an SFT prompt). Positions restart
/// at 0 for every packed document; <see cref="SequenceStarts"/> are the flat indices where documents
/// begin (every row start included), as <see cref="PackedStarts.Of"/> takes them for <see cref="AttentionSpec.SequenceStarts"/>.
/// </summary>
public sealed record TrainingBatch(int Rows, int Length, long[] Ids, long[] Targets, long[] Positions, int[] SequenceStarts)
{
    /// <summary>
    /// The target value that counts nowhere in the loss (<see cref="CrossEntropyOp.IgnoreIndex"/>).
    /// </summary>
    public const int IgnoreIndex = -100;

    /// <summary>How many targets count in the loss.</summary>
    public int CountedTargets => Targets.Count(t => t != IgnoreIndex);

    /// <summary>
    /// Rows [<paramref name="first"/>, first + <paramref name="count"/>) as a batch of their own: a data-parallel rank's
    /// share of a global batch, with the sequence starts that fall in them.
    /// </summary>
    public TrainingBatch RowsOf(int first, int count)
    {
        if (first < 0 || count < 1 || first + count > Rows)
            throw new ArgumentOutOfRangeException(nameof(count), $"training batch: rows [{first}, {first + count}) are not within its {Rows} rows");
        int from = first * Length, size = count * Length;
        return new TrainingBatch(count, Length, Ids[from..(from + size)], Targets[from..(from + size)], Positions[from..(from + size)],
                                 [.. SequenceStarts.Where(s => s >= from && s < from + size).Select(s => s - from)]);
    }
}
