namespace RawLongLoRA.Model;

/// <summary>
/// Parameters read from a model folder's safetensors, converted to the dtype their kind is kept in
/// (matrices: the chosen weight dtype; norms and biases: float32). The folder is checked against the
/// config up front (<see cref="CheckpointCheck"/>), so a checkpoint of another architecture or with a
/// missing, mis-shaped or extra tensor fails before any weight is read.
/// </summary>
public sealed class CheckpointParameters : IParameterSource, IDisposable
{
    private readonly SafeTensorsCheckpoint _checkpoint;
    private readonly DType _weightDtype;

    /// <summary>
    /// Opens the safetensors of model folder <paramref name="dir"/> and checks every tensor's name, shape and dtype
    /// against <paramref name="config"/>; matrices are converted to <paramref name="weightDtype"/> as they are read.
    /// Dispose it once the model is built (the loaded tensors stay valid).
    /// </summary>
    public CheckpointParameters(string dir, ModelConfig config, DType weightDtype)
    {
        if (!weightDtype.IsFloat())
            throw new ArgumentException($"weight dtype must be a float type, not {weightDtype.TorchName()}", nameof(weightDtype));
        _checkpoint = SafeTensorsCheckpoint.Open(dir);
        _weightDtype = weightDtype;
        try
        {
            CheckpointCheck.ThrowIfAny(CheckpointCheck.Problems(config, _checkpoint), _checkpoint.Path);
        }
        catch
        {
            _checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>The tensor as stored; its name, shape and dtype were checked when the folder was opened.</summary>
    public Tensor Get(string name, int[] shape, ParameterKind kind) => _checkpoint.Load(name, kind == ParameterKind.Matrix ? _weightDtype : DType.F32);

    /// <summary>Closes the memory-mapped files; tensors already loaded stay valid.</summary>
    public void Dispose() => _checkpoint.Dispose();
}
