namespace RawLongLoRA.Model;

/// <summary>
/// Parameters read from a model folder's safetensors: each checked against the shape the config
/// implies and converted to the dtype its kind is kept in (matrices: the chosen weight dtype; norms
/// and biases: float32). Afterwards <see cref="CheckAllUsed"/> rejects tensors the model has no
/// place for, so a checkpoint of another architecture cannot load silently.
/// </summary>
public sealed class CheckpointParameters : IParameterSource, IDisposable
{
    private readonly SafeTensorsCheckpoint _checkpoint;
    private readonly DType _weightDtype;
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public CheckpointParameters(string dir, DType weightDtype)
    {
        if (!weightDtype.IsFloat())
            throw new ArgumentException($"weight dtype must be a float type, not {weightDtype.TorchName()}", nameof(weightDtype));
        _checkpoint = SafeTensorsCheckpoint.Open(dir);
        _weightDtype = weightDtype;
    }

    public Tensor Get(string name, int[] shape, ParameterKind kind)
    {
        if (!_checkpoint.Contains(name))
            throw new SafeTensorsException(_checkpoint.Path, name, "missing-tensor", $"the model needs it with shape {Shapes.Format(shape)}");
        var info = _checkpoint.Info(name);
        if (!Shapes.Equal(info.Shape, shape))
            throw new SafeTensorsException(_checkpoint.Path, name, "shape",
                $"the config implies shape {Shapes.Format(shape)} but the checkpoint holds {Shapes.Format(info.Shape)}");
        if (!info.DType.IsFloat())
            throw new SafeTensorsException(_checkpoint.Path, name, "dtype", $"a weight must be F32, BF16 or F16, not {info.DType.SafetensorsName()}");
        _used.Add(name);
        return _checkpoint.Load(name, kind == ParameterKind.Matrix ? _weightDtype : DType.F32);
    }

    /// <summary>Throws naming every tensor the model did not take, except those Hugging Face also ignores.</summary>
    public void CheckAllUsed(bool tiedEmbeddings)
    {
        var unused = _checkpoint.Names.Where(n => !_used.Contains(n) && !Ignorable(n, tiedEmbeddings)).Order(StringComparer.Ordinal).ToList();
        if (unused.Count > 0)
            throw new SafeTensorsException(_checkpoint.Path, unused[0], "unexpected-tensor",
                $"the model has no parameter for {unused.Count} tensor(s): {string.Join(", ", unused.Take(5))}{(unused.Count > 5 ? ", …" : "")}");
    }

    /// <summary>A redundant lm_head beside tied embeddings, and rotary buffers some exporters saved.</summary>
    private static bool Ignorable(string name, bool tied) => (tied && name == "lm_head.weight") || name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);

    public void Dispose() => _checkpoint.Dispose();
}
