namespace RawLongLoRA.Training;

/// <summary>
/// What a checkpoint holds besides tensors, so that a resumed run continues the same run: the step,
/// the data cursor, the dropout stream's offset, and the fault counters.
/// </summary>
public sealed record TrainerState
{
    /// <summary>Optimizer steps completed.</summary>
    public int Step { get; init; }
    /// <summary>The next batch to read.</summary>
    public DataCursor Cursor { get; init; } = DataCursor.Start;

    /// <summary>Generator.Default's offset after the step (LoRA dropout draws from it).</summary>
    public ulong RngOffset { get; init; }

    /// <summary>The run's seed (the adapter's init, dropout, the data order).</summary>
    public ulong Seed { get; init; }

    /// <summary>What --resume checks a run against; null in checkpoints written before it was kept.</summary>
    public RunIdentity? Run { get; init; }
    /// <summary>Steps skipped so far because their loss or gradient was NaN/Inf.</summary>
    public int SkippedSteps { get; init; }
    /// <summary>
    /// Skipped steps in a row up to now; <see cref="TrainOptions.MaxBadSteps"/> of them stop the run.
    /// </summary>
    public int BadStepsInARow { get; init; }
}
