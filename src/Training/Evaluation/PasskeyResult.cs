namespace RawLongLoRA.Training;

/// <summary>A passkey evaluation: the accuracy table and every trial behind it.</summary>
public sealed record PasskeyResult(PasskeyTable Table, IReadOnlyList<PasskeyTrial> Trials);
