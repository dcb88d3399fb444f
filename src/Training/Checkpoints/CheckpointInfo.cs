namespace RawLongLoRA.Training;

/// <summary>A complete checkpoint folder (checkpoint-&lt;step&gt;) on disk.</summary>
public sealed record CheckpointInfo(int Step, string Path);
