namespace RawLongLoRA.Training;

/// <summary>
/// One row of <see cref="PackedDataset.Length"/> tokens: the packed sequences (documents, pieces of a
/// long document, SFT samples, and trailing padding as a sequence of its own), each from its start.
/// Targets are not stored: a token's target is the next token of the same sequence, where that token
/// is at or past the sequence's first predicted index (after an SFT prompt), else <see cref="TrainingBatch.IgnoreIndex"/>.
/// </summary>
public sealed class PackedRow
{
    private readonly int[] _ids, _starts, _firstPredicted;

    internal PackedRow(int[] ids, int[] starts, int[] firstPredicted)
    {
        _ids = ids;
        _starts = starts;
        _firstPredicted = firstPredicted;
    }

    /// <summary>The row's <see cref="PackedDataset.Length"/> token ids, padding included.</summary>
    public ReadOnlySpan<int> Ids => _ids;

    /// <summary>Where each sequence begins in the row, ascending, 0 first.</summary>
    public ReadOnlySpan<int> SequenceStarts => _starts;

    /// <summary>Writes the row at flat offset <paramref name="offset"/> of a batch's arrays and adds its sequence starts.</summary>
    internal void WriteTo(int offset, long[] ids, long[] targets, long[] positions, List<int> sequenceStarts)
    {
        for (int s = 0; s < _starts.Length; s++)
        {
            int start = _starts[s], end = s + 1 < _starts.Length ? _starts[s + 1] : _ids.Length;
            sequenceStarts.Add(offset + start);
            for (int i = start; i < end; i++)
            {
                ids[offset + i] = _ids[i];
                positions[offset + i] = i - start;
                targets[offset + i] = i + 1 < end && i + 1 >= _firstPredicted[s] ? _ids[i + 1] : TrainingBatch.IgnoreIndex;
            }
        }
    }
}
