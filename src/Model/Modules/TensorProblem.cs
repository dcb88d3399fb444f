namespace RawLongLoRA.Model;

/// <summary>How a model folder's tensor disagrees with what its config implies.</summary>
public enum TensorProblemKind
{
    /// <summary>The model needs the tensor and the folder lacks it.</summary>
    Missing,

    /// <summary>Present with another shape (a transposed matrix, another size).</summary>
    Misshaped,

    /// <summary>Present with a dtype a weight cannot have (an integer type).</summary>
    WrongDtype,

    /// <summary>Present though the model has no parameter for it.</summary>
    Unexpected,
}

/// <summary>One tensor that keeps a model folder from loading: what the config implies and what the folder holds.</summary>
public sealed record TensorProblem(TensorProblemKind Kind, string Tensor, string Expected, string Found)
{
    /// <summary>The <see cref="SafeTensorsException.Rule"/> a load that meets this problem throws with.</summary>
    public string Rule => Kind switch
    {
        TensorProblemKind.Missing => "missing-tensor",
        TensorProblemKind.Misshaped => "shape",
        TensorProblemKind.WrongDtype => "dtype",
        _ => "unexpected-tensor",
    };

    /// <summary>The kind as people read it: "missing", "mis-shaped", "wrong dtype", "unexpected".</summary>
    public string Label => Kind switch
    {
        TensorProblemKind.Missing => "missing",
        TensorProblemKind.Misshaped => "mis-shaped",
        TensorProblemKind.WrongDtype => "wrong dtype",
        _ => "unexpected",
    };

    /// <summary>One sentence for reports: "config.json implies ...; the checkpoint holds ...".</summary>
    public string Detail => $"config.json implies {Expected}; the checkpoint holds {Found}";
}
