namespace RawLongLoRA.Training;

/// <summary>A run that cannot go on (too many NaN/Inf steps in a row, a checkpoint that does not fit the run).</summary>
public sealed class TrainingException(string message, Exception? inner = null) : Exception(message, inner);
