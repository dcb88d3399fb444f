using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// Every training row: tokenized samples (pretraining documents, LongAlpaca instruction samples, or
/// a token cache of either) packed in file order into rows of <see cref="Length"/> tokens as
/// <see cref="RowPacking"/> says (a sample that does not fit the rest of a row starts the next; a
/// document longer than a row is cut into row-long pieces, each a sequence with positions from 0), so
/// that attention and targets never cross a sample. <see cref="DataLoader"/> draws batches of rows
/// from it. Rows are read from the samples when a batch asks for them; disposing the dataset
/// releases the samples (a memory-mapped cache).
/// </summary>
public sealed class PackedDataset : IDisposable
{
    private readonly SampleTokens _samples;
    private readonly List<RowStart> _rows;
    private readonly int _padId;
    private readonly bool _onePerRow;

    private PackedDataset(SampleTokens samples, int length, int padId, bool onePerRow, DataStats stats)
    {
        _samples = samples;
        (Length, _padId, _onePerRow, Stats) = (length, padId, onePerRow, stats);
        _rows = RowPacking.Plan(samples, length, onePerRow, stats);
    }

    /// <summary>Tokens per row (max_length).</summary>
    public int Length { get; }

    /// <summary>The number of rows.</summary>
    public int RowCount => _rows.Count;

    /// <summary>What tokenizing and packing counted.</summary>
    public DataStats Stats { get; }

    /// <summary>Pretraining documents from .txt files (a file is a document) and .jsonl files (a line is one), or folders of them; see <see cref="DataOptions.TextField"/>.</summary>
    public static PackedDataset FromDocuments(IEnumerable<string> paths, Tokenizer tokenizer, DataOptions options) =>
        FromFiles(paths, tokenizer, options, new PretrainingDocuments(tokenizer, options.TextField));

    /// <summary>
    /// LongAlpaca instruction data (.jsonl: instruction, optional input, output): the prompt is masked
    /// out of the loss; a sample longer than a row loses the start of its prompt first, then the tail
    /// of its answer, and each cut is counted in <see cref="Stats"/>.
    /// </summary>
    public static PackedDataset FromInstructions(IEnumerable<string> paths, Tokenizer tokenizer, DataOptions options) =>
        FromFiles(paths, tokenizer, options, new InstructionSamples(tokenizer, options));

    /// <summary>
    /// Packs <paramref name="samples"/> (which the dataset then owns); <paramref name="tokenized"/>
    /// holds what tokenizing them counted (skipped and truncated samples), and packing adds the rest.
    /// </summary>
    public static PackedDataset FromSamples(SampleTokens samples, int length, int padId, bool onePerRow, DataStats tokenized) =>
        new(samples, length, padId, onePerRow, tokenized);

    /// <summary>Row <paramref name="index"/>: its ids and sequences, the padding after the last sample a sequence of its own.</summary>
    public PackedRow Row(int index)
    {
        var pieces = new List<RowPiece>();
        var (_, used) = RowPacking.Fill(_samples, _rows[index], Length, _onePerRow, pieces);
        int[] ids = new int[Length];
        foreach (var p in pieces)
            _samples.Ids(p.Sample).Slice(p.Offset, p.Length).CopyTo(ids.AsSpan(p.At));
        ids.AsSpan(used).Fill(_padId);
        var starts = pieces.Select(p => p.At);
        var firstPredicted = pieces.Select(p => p.FirstPredicted);
        return used < Length
            ? new PackedRow(ids, [.. starts, used], [.. firstPredicted, Length])
            : new PackedRow(ids, [.. starts], [.. firstPredicted]);
    }

    /// <summary>The rows at <paramref name="rows"/>, in that order, as one batch.</summary>
    public TrainingBatch Batch(IReadOnlyList<int> rows)
    {
        int size = checked(rows.Count * Length);
        long[] ids = new long[size], targets = new long[size], positions = new long[size];
        var starts = new List<int>();
        for (int r = 0; r < rows.Count; r++)
            Row(rows[r]).WriteTo(r * Length, ids, targets, positions, starts);
        return new TrainingBatch(rows.Count, Length, ids, targets, positions, [.. starts]);
    }

    /// <summary>The samples packed in order; the stats count what was packed.</summary>
    internal static PackedDataset Pack(IEnumerable<TokenizedSample> samples, int length, int padId, bool onePerRow, DataStats stats) =>
        new(new SampleList([.. samples]), length, padId, onePerRow, stats);

    private static PackedDataset FromFiles(IEnumerable<string> paths, Tokenizer tokenizer, DataOptions options, SampleFormat format)
    {
        options.Validate();
        var files = DataFiles.Expand(paths);
        var samples = new List<TokenizedSample>();
        var stats = CorpusTokenizer.Run(files, format, samples.Add, null, CancellationToken.None);
        var dataset = new PackedDataset(new SampleList(samples), options.MaxLength, DataTokens.Pad(tokenizer), options.OnePerRow, stats);
        return dataset.RowCount > 0 ? dataset : throw DataFiles.NoSamples(files, stats);
    }

    /// <summary>Releases the samples (unmaps a token cache).</summary>
    public void Dispose() => _samples.Dispose();
}
