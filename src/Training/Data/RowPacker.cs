namespace RawLongLoRA.Training;

/// <summary>
/// Packs samples, in order, into rows of a fixed length (next-fit): a sample goes after the previous
/// one when it fits in the rest of the row, else it starts a new row and the rest of the old one is
/// padding. A sample longer than a row starts a new row and is cut into row-long pieces, each a
/// sequence of its own (positions from 0; no target crosses a cut); its last piece is packed on like
/// a sample. With one sample per row, every sample (or piece) ends its row.
/// </summary>
internal sealed class RowPacker(int length, int padId, bool onePerRow, DataStats stats)
{
    private readonly List<PackedRow> _rows = [];
    private readonly List<int> _starts = [], _firstPredicted = [];
    private int[] _ids = new int[length];
    private int _used;

    public void Add(TokenizedSample sample)
    {
        int n = sample.Ids.Length;
        if (_used > 0 && n > length - _used)
            EndRow();
        if (n > length)
            stats.SplitDocuments++;
        for (int offset = 0; offset < n;)
        {
            if (_used == length)
                EndRow();
            int piece = Math.Min(n - offset, length - _used);
            _starts.Add(_used);
            _firstPredicted.Add(_used + Math.Clamp(sample.PromptLength - offset, 0, piece));
            sample.Ids.AsSpan(offset, piece).CopyTo(_ids.AsSpan(_used));
            _used += piece;
            offset += piece;
        }
        stats.Samples++;
        stats.Tokens += n;
        if (onePerRow)
            EndRow();
    }

    /// <summary>The rows, the last one padded.</summary>
    public List<PackedRow> Finish()
    {
        if (_used > 0)
            EndRow();
        return _rows;
    }

    private void EndRow()
    {
        if (_used < length)
        {
            _starts.Add(_used);
            _firstPredicted.Add(length);
            _ids.AsSpan(_used).Fill(padId);
            stats.PaddingTokens += length - _used;
        }
        _rows.Add(new PackedRow(_ids, [.. _starts], [.. _firstPredicted]));
        stats.Rows++;
        _ids = new int[length];
        _starts.Clear();
        _firstPredicted.Clear();
        _used = 0;
    }
}
