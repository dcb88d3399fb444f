namespace RawLongLoRA.Training;

/// <summary>Where a packed row begins: sample <see cref="Sample"/>, from its token <see cref="Offset"/> (past 0 inside a split sample).</summary>
internal readonly record struct RowStart(long Sample, int Offset);

/// <summary>A stretch of one sample in a row: <see cref="Length"/> tokens from <see cref="Offset"/>, put at <see cref="At"/>; targets count from <see cref="FirstPredicted"/> (a row index).</summary>
internal readonly record struct RowPiece(long Sample, int Offset, int Length, int At, int FirstPredicted);

/// <summary>
/// Packs samples, in order, into rows of a fixed length (next-fit): a sample goes after the previous
/// one when it fits in the rest of the row, else it starts a new row and the rest of the old one is
/// padding. A sample longer than a row starts a new row and is cut into row-long pieces, each a
/// sequence of its own (positions from 0; no target crosses a cut); its last piece is packed on like
/// a sample. With one sample per row, every sample (or piece) ends its row. Only where each row
/// begins is kept (<see cref="Plan"/>); a row's pieces are found again from there
/// (<see cref="Fill"/>), so the rows of a corpus larger than memory cost a few bytes each.
/// </summary>
internal static class RowPacking
{
    /// <summary>Where every row begins; counts the rows, samples, tokens, padding and split samples into <paramref name="stats"/>.</summary>
    public static List<RowStart> Plan(SampleTokens samples, int length, bool onePerRow, DataStats stats)
    {
        for (long s = 0; s < samples.Count; s++)
        {
            int n = samples.Length(s);
            if (n == 0)
                continue;
            stats.Samples++;
            stats.Tokens += n;
            if (n > length)
                stats.SplitDocuments++;
        }
        var rows = new List<RowStart>();
        var start = new RowStart(0, 0);
        while (true)
        {
            var (next, used) = Fill(samples, start, length, onePerRow, null);
            if (used == 0)
                break;
            rows.Add(start);
            stats.PaddingTokens += length - used;
            start = next;
        }
        stats.Rows = rows.Count;
        return rows;
    }

    /// <summary>The pieces of the row that begins at <paramref name="start"/> (added to <paramref name="pieces"/>), where the next row begins, and the tokens used.</summary>
    public static (RowStart Next, int Used) Fill(SampleTokens samples, RowStart start, int length, bool onePerRow, List<RowPiece>? pieces)
    {
        long s = start.Sample;
        int offset = start.Offset, used = 0;
        while (s < samples.Count)
        {
            int n = samples.Length(s);
            if (n == 0)
            {
                s++;
                continue;
            }
            if (offset == 0 && used > 0 && n > length - used)
                break;
            int piece = Math.Min(n - offset, length - used);
            pieces?.Add(new RowPiece(s, offset, piece, used, used + Math.Clamp(samples.PromptLength(s) - offset, 0, piece)));
            used += piece;
            offset += piece;
            if (offset == n)
            {
                (s, offset) = (s + 1, 0);
                if (onePerRow)
                    break;
            }
            if (used == length)
                break;
        }
        return (new RowStart(s, offset), used);
    }
}
