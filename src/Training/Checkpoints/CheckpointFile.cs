namespace RawLongLoRA.Training;

/// <summary>One safetensors file of a checkpoint ("trainable.safetensors", "optimizer.safetensors"): its name in the folder and its tensors.</summary>
public sealed record CheckpointFile(string FileName, IEnumerable<(string Name, Tensor Tensor)> Tensors);
