namespace RawLongLoRA.Training;

/// <summary>A checkpoint that cannot be read back: names the file and what is wrong with it.</summary>
public sealed class CheckpointException(string file, string detail, Exception? inner = null)
    : IOException($"checkpoint: {file}: {detail}", inner)
{
    /// <summary>The file at fault (a manifest, trainer_state.json, a safetensors file).</summary>
    public string File { get; } = file;
}
