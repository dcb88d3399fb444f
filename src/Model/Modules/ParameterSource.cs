namespace RawLongLoRA.Model;

/// <summary>Where a module's parameters come from when it is built: a checkpoint, or a random init.</summary>
public interface IParameterSource
{
    /// <summary>The tensor for parameter <paramref name="name"/> of the given shape, in its kind's dtype.</summary>
    Tensor Get(string name, int[] shape, ParameterKind kind);
}

/// <summary>What a parameter is, which decides its initial values and the dtype it is kept in.</summary>
public enum ParameterKind
{
    /// <summary>A projection or embedding matrix: may be kept in a 16-bit dtype while frozen.</summary>
    Matrix,

    /// <summary>A bias: float32.</summary>
    Bias,

    /// <summary>An RMSNorm weight: float32, initialised to ones.</summary>
    Norm,
}

/// <summary>
/// Random weights as torch_llama.py's init draws them in spirit (normal(0, std) matrices, zero
/// biases, unit norms), from one Philox generator so that a seed gives the same model everywhere.
/// </summary>
public sealed class RandomParameters(ulong seed, float std = 0.02f) : IParameterSource
{
    private readonly Generator _gen = new(seed);

    /// <summary>
    /// A new tensor of <paramref name="shape"/>: ones for norms, zeros for biases, normal(0, std) for matrices.
    /// </summary>
    public Tensor Get(string name, int[] shape, ParameterKind kind) => kind switch
    {
        ParameterKind.Norm => Tensor.Ones(shape),
        ParameterKind.Bias => Tensor.Zeros(shape),
        _ => Tensor.Randn(shape, _gen, std: std),
    };
}

/// <summary>
/// The parameters of another source, each moved to <paramref name="device"/> as it is read, so the host holds one
/// weight at a time.
/// </summary>
internal sealed class ParametersOn(IParameterSource source, Device device) : IParameterSource
{
    /// <summary>The source's tensor, moved to the device.</summary>
    public Tensor Get(string name, int[] shape, ParameterKind kind)
    {
        var t = source.Get(name, shape, kind);
        t.MoveTo(device);
        return t;
    }
}
