using System.Text.Json.Serialization;

namespace RawLongLoRA.Training;

/// <summary>
/// One optimizer step as the log records it (metrics.jsonl, one JSON object per line, and the console):
/// the mean loss over its counted target tokens, the learning rate used, the gradient norm before
/// clipping, the tokens it read, whether a NaN/Inf made it skip the update, and memory: the most tensor
/// bytes live during the step (<see cref="Storage.PeakBytes"/>, reset as the step begins; weights viewed in
/// a memory-mapped checkpoint are not in it but in <paramref name="MappedWeightBytes"/>) and the
/// process's resident set now and at its peak so far (<see cref="ProcessMemory"/>; null off Linux).
/// </summary>
public sealed record StepLog(int Step, int TotalSteps, double Loss, float Lr, double GradNorm, long Tokens, double Seconds, bool Skipped,
                             long PeakTensorBytes, long? ResidentBytes, long? PeakResidentBytes, long MappedWeightBytes = 0)
{
    /// <summary>Tokens read per second of the step's wall time.</summary>
    [JsonPropertyName("tokens_per_s")]
    public double TokensPerSecond => Tokens / Math.Max(Seconds, 1e-9);
}
