namespace RawLongLoRA.Model;

/// <summary>One tensor a model folder must hold for a config: its HF key, shape and kind.</summary>
public sealed record ExpectedParameter(string Name, int[] Shape, ParameterKind Kind);

public sealed partial class CausalLM
{
    /// <summary>
    /// Every tensor <see cref="Load(string, DType)"/> reads for <paramref name="config"/>, in the order it reads them.
    /// The list comes from building the model itself on a source that only records what it is asked
    /// for, so that it cannot disagree with the modules; no weight memory is allocated.
    /// </summary>
    public static IReadOnlyList<ExpectedParameter> ExpectedParameters(ModelConfig config)
    {
        var recorder = new ShapeRecorder();
        new CausalLM(config, recorder).Dispose();
        return recorder.Requested;
    }

    /// <summary>Answers each request with one float broadcast to the shape (stride 0), and writes the request down.</summary>
    private sealed class ShapeRecorder : IParameterSource
    {
        public List<ExpectedParameter> Requested { get; } = [];

        public Tensor Get(string name, int[] shape, ParameterKind kind)
        {
            Requested.Add(new ExpectedParameter(name, (int[])shape.Clone(), kind));
            using var one = Tensor.Zeros([1]);
            return one.Expand(shape);
        }
    }
}
