namespace RawLongLoRA.Training;

/// <summary>
/// Where a <see cref="DataLoader"/> stands: the next batch is batch <see cref="Index"/> of epoch
/// <see cref="Epoch"/>. Saved with a checkpoint (it serializes as JSON), it makes a resumed run read
/// exactly the batches the uninterrupted run would have read, given the same data, options and seed.
/// </summary>
public sealed record DataCursor(int Epoch, int Index)
{
    /// <summary>The first batch of the first epoch: where a fresh run starts.</summary>
    public static readonly DataCursor Start = new(0, 0);
}
