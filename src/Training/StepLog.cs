namespace RawLongLoRA.Training;

/// <summary>
/// One optimizer step as the log records it (log.jsonl, one JSON object per line, and the console):
/// the mean loss over its counted target tokens, the learning rate used, the gradient norm before
/// clipping, the tokens it read, and whether a NaN/Inf made it skip the update.
/// </summary>
public sealed record StepLog(int Step, int TotalSteps, double Loss, float Lr, double GradNorm, long Tokens, double Seconds, bool Skipped)
{
    public double TokensPerSecond => Tokens / Math.Max(Seconds, 1e-9);
}
