using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// Every training row, tokenized and packed once: pretraining documents
/// (<see cref="FromDocuments"/>) or LongAlpaca instruction samples (<see cref="FromInstructions"/>),
/// packed in file order into rows of <see cref="Length"/> tokens as <see cref="RowPacker"/> says
/// (a sample that does not fit the rest of a row starts the next; a document longer than a row is
/// cut into row-long pieces, each a sequence with positions from 0), so that attention and targets
/// never cross a sample. <see cref="DataLoader"/> draws batches of rows from it.
/// </summary>
public sealed class PackedDataset
{
    private readonly List<PackedRow> _rows;

    private PackedDataset(int length, List<PackedRow> rows, DataStats stats)
    {
        Length = length;
        _rows = rows;
        Stats = stats;
    }

    /// <summary>Tokens per row (max_length).</summary>
    public int Length { get; }

    public IReadOnlyList<PackedRow> Rows => _rows;

    public DataStats Stats { get; }

    /// <summary>Pretraining documents from .txt files (a file is a document) and .jsonl files (a line is one), or folders of them; see <see cref="DataOptions.TextField"/>.</summary>
    public static PackedDataset FromDocuments(IEnumerable<string> paths, Tokenizer tokenizer, DataOptions options) =>
        Build(paths, tokenizer, options, PretrainingDocuments.Read);

    /// <summary>
    /// LongAlpaca instruction data (.jsonl: instruction, optional input, output): the prompt is masked
    /// out of the loss; a sample longer than a row loses the start of its prompt first, then the tail
    /// of its answer, and each cut is counted in <see cref="Stats"/>.
    /// </summary>
    public static PackedDataset FromInstructions(IEnumerable<string> paths, Tokenizer tokenizer, DataOptions options) =>
        Build(paths, tokenizer, options, InstructionSamples.Read);

    /// <summary>The rows at <paramref name="rows"/>, in that order, as one batch.</summary>
    public TrainingBatch Batch(IReadOnlyList<int> rows)
    {
        int size = rows.Count * Length;
        long[] ids = new long[size], targets = new long[size], positions = new long[size];
        var starts = new List<int>();
        for (int r = 0; r < rows.Count; r++)
            _rows[rows[r]].WriteTo(r * Length, ids, targets, positions, starts);
        return new TrainingBatch(rows.Count, Length, ids, targets, positions, [.. starts]);
    }

    /// <summary>The samples packed in order; the stats count what was packed.</summary>
    internal static PackedDataset Pack(IEnumerable<TokenizedSample> samples, int length, int padId, bool onePerRow, DataStats stats)
    {
        var packer = new RowPacker(length, padId, onePerRow, stats);
        foreach (var sample in samples)
            packer.Add(sample);
        return new PackedDataset(length, packer.Finish(), stats);
    }

    private static PackedDataset Build(IEnumerable<string> paths, Tokenizer tokenizer, DataOptions options,
        Func<IReadOnlyList<string>, Tokenizer, DataOptions, DataStats, IEnumerable<TokenizedSample>> read)
    {
        options.Validate();
        var files = DataFiles.Expand(paths);
        var stats = new DataStats();
        var dataset = Pack(read(files, tokenizer, options, stats), options.MaxLength, DataTokens.Pad(tokenizer), options.OnePerRow, stats);
        return dataset._rows.Count > 0 ? dataset
            : throw new DataException(string.Join(", ", files), null, null, $"no samples to train on ({stats.Skipped} empty ones skipped)");
    }
}
