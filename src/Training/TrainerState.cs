namespace RawLongLoRA.Training;

/// <summary>
/// What a checkpoint holds besides tensors, so that a resumed run continues the same run: the step,
/// the data cursor, the dropout stream's offset, and the fault counters.
/// </summary>
public sealed record TrainerState
{
    public int Step { get; init; }
    public DataCursor Cursor { get; init; } = DataCursor.Start;

    /// <summary>Generator.Default's offset after the step (LoRA dropout draws from it).</summary>
    public ulong RngOffset { get; init; }

    public ulong Seed { get; init; }
    public int SkippedSteps { get; init; }
    public int BadStepsInARow { get; init; }
}
