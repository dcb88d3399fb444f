namespace RawLongLoRA.Training;

/// <summary>
/// Batches of <see cref="BatchSize"/> rows from a <see cref="PackedDataset"/>, the rows of each epoch
/// in an order shuffled by the seed (<see cref="EpochOrder"/>). An epoch is
/// <see cref="BatchesPerEpoch"/> full batches; the rows its order puts after the last full batch wait
/// for another epoch, so every batch has the same shape. <see cref="Cursor"/> says where it stands;
/// a loader made with a saved cursor goes on with the same batches.
/// </summary>
public sealed class DataLoader
{
    private readonly PackedDataset _dataset;
    private readonly ulong _seed;
    private int[] _order;

    /// <summary>
    /// Batches of <paramref name="batchSize"/> rows of <paramref name="dataset"/> (which the loader reads, not owns)
    /// in the order <paramref name="seed"/> shuffles, starting at <paramref name="cursor"/> (default: the start).
    /// </summary>
    public DataLoader(PackedDataset dataset, int batchSize, ulong seed, DataCursor? cursor = null)
    {
        if (batchSize < 1 || batchSize > dataset.RowCount)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"batch size is {batchSize}; it must be in [1, {dataset.RowCount}], the dataset's rows");
        _dataset = dataset;
        _seed = seed;
        BatchSize = batchSize;
        BatchesPerEpoch = dataset.RowCount / batchSize;
        Cursor = cursor ?? DataCursor.Start;
        if (Cursor.Epoch < 0 || Cursor.Index < 0 || Cursor.Index >= BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(cursor), Cursor, $"cursor {Cursor} is outside this data: epochs from 0, {BatchesPerEpoch} batches an epoch");
        _order = EpochOrder(dataset.RowCount, seed, Cursor.Epoch);
    }

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Full batches per epoch: the dataset's rows divided by the batch size, rounded down.</summary>
    public int BatchesPerEpoch { get; }

    /// <summary>The batch <see cref="Next"/> gives.</summary>
    public DataCursor Cursor { get; private set; }

    /// <summary>
    /// The batch at <see cref="Cursor"/>, then moves the cursor on (into the next epoch, reshuffled, after the last
    /// full batch).
    /// </summary>
    public TrainingBatch Next()
    {
        var batch = _dataset.Batch(new ArraySegment<int>(_order, Cursor.Index * BatchSize, BatchSize));
        Cursor = Cursor.Index + 1 < BatchesPerEpoch ? Cursor with { Index = Cursor.Index + 1 } : new DataCursor(Cursor.Epoch + 1, 0);
        if (Cursor.Index == 0)
            _order = EpochOrder(_dataset.RowCount, _seed, Cursor.Epoch);
        return batch;
    }

    /// <summary>
    /// The rows of <paramref name="epoch"/> in their order: a Fisher–Yates shuffle of 0..count-1
    /// (from the last place down, swapping place i with one in [0, i]) drawing from SplitMix64
    /// seeded with Mix(seed + Mix(epoch)), so each epoch has its own order.
    /// </summary>
    public static int[] EpochOrder(int count, ulong seed, int epoch)
    {
        int[] order = [.. Enumerable.Range(0, count)];
        var random = new SplitMix64(SplitMix64.Mix(seed + SplitMix64.Mix((ulong)epoch)));
        for (int i = count - 1; i > 0; i--)
        {
            int j = random.NextBelow(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
