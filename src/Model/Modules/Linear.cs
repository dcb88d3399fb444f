namespace RawLongLoRA.Model;

/// <summary>
/// y = x Wᵀ + b with W stored [out, in] under "&lt;name&gt;.weight" (and "&lt;name&gt;.bias"), plus the
/// active LoRA adapter where there is one (several may be attached; one is active, or merged into W).
/// </summary>
public sealed class Linear : Module
{
    private readonly Dictionary<string, LoraAdapter> _adapters = [];
    private Tensor? _mergedNorm;

    /// <summary>
    /// The layer <paramref name="key"/> ("model.layers.0.self_attn.q_proj") of <paramref name="inFeatures"/> →
    /// <paramref name="outFeatures"/>, its weight (and bias where <paramref name="bias"/>) from
    /// <paramref name="source"/>.
    /// </summary>
    public Linear(IParameterSource source, string key, int inFeatures, int outFeatures, bool bias)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = Parameter("weight", source.Get(key + ".weight", [outFeatures, inFeatures], ParameterKind.Matrix));
        if (bias)
            Bias = Parameter("bias", source.Get(key + ".bias", [outFeatures], ParameterKind.Bias));
    }

    /// <summary>in: the width of the input's last dim.</summary>
    public int InFeatures { get; }
    /// <summary>out: the width of the output's last dim.</summary>
    public int OutFeatures { get; }
    /// <summary>W [out, in], frozen under LoRA (kept in the model's weight dtype: float32, BF16 or F16).</summary>
    public Tensor Weight { get; }
    /// <summary>b [out], float32, or null.</summary>
    public Tensor? Bias { get; }

    /// <summary>The attached LoRA adapters by name (at most one is active).</summary>
    public IReadOnlyDictionary<string, LoraAdapter> Adapters => _adapters;

    /// <summary>The adapter Forward applies; null for the bare layer.</summary>
    public string? ActiveAdapter { get; private set; }

    /// <summary>The adapter folded into <see cref="Weight"/>, if any: Forward then applies none.</summary>
    public string? MergedAdapter { get; private set; }

    /// <summary>
    /// x [..., in] → [..., out]: x Wᵀ + b, plus the active adapter's update unless it is merged into W.
    /// </summary>
    public Tensor Forward(Tensor x)
    {
        using var profile = Profiled();
        return ActiveAdapter is { } name && MergedAdapter is null
            ? _adapters[name].Forward(x, Weight, Bias, Training)
            : x.Linear(Weight, Bias);
    }

    /// <summary>Attaches an adapter under PEFT's parameter names (lora_A.&lt;name&gt;.weight, ...).</summary>
    internal void AddAdapter(string name, LoraAdapter adapter)
    {
        if (!_adapters.TryAdd(name, adapter))
            throw new ArgumentException($"lora: this layer already has an adapter named '{name}'", nameof(name));
        Parameter($"lora_A.{name}.weight", adapter.A);
        Parameter($"lora_B.{name}.weight", adapter.B);
        if (adapter.Magnitude is not null)
            Parameter($"lora_magnitude_vector.{name}.weight", adapter.Magnitude);
    }

    internal void RemoveAdapter(string name)
    {
        if (MergedAdapter == name)
            throw new InvalidOperationException($"lora: adapter '{name}' is merged; unmerge it before deleting it");
        var adapter = _adapters[name];
        _adapters.Remove(name);
        Remove($"lora_A.{name}.weight");
        Remove($"lora_B.{name}.weight");
        if (adapter.Magnitude is not null)
            Remove($"lora_magnitude_vector.{name}.weight");
        if (ActiveAdapter == name)
            ActiveAdapter = null;
    }

    internal void SetActive(string? name)
    {
        if (name is not null && !_adapters.ContainsKey(name))
            throw new KeyNotFoundException($"lora: no adapter named '{name}'");
        if (MergedAdapter is not null && MergedAdapter != name)
            throw new InvalidOperationException($"lora: adapter '{MergedAdapter}' is merged; unmerge it before switching");
        ActiveAdapter = name;
    }

    /// <summary>Moves the parameters (see <see cref="Module.To"/>) and the norm a merged DoRA adapter keeps for unmerging.</summary>
    public override Module To(Device device)
    {
        _mergedNorm?.MoveTo(device);
        return base.To(device);
    }

    /// <summary>
    /// Folds the active adapter into W (in float32, stored back in W's dtype): W + s·BA, or for DoRA
    /// m/‖W + s·BA‖ · (W + s·BA), keeping the norm so that <see cref="Unmerge"/> can undo it.
    /// </summary>
    internal void Merge()
    {
        if (ActiveAdapter is not { } name || MergedAdapter is not null)
            return;
        using (Autograd.NoGrad())
        using (new DisposeScope())
        {
            Weight.CopyFrom(FoldedWeight(name, out var norm));
            _mergedNorm = norm?.DetachFromScope();
        }
        MergedAdapter = name;
    }

    /// <summary>
    /// W with adapter <paramref name="name"/> folded in, a new float32 tensor (W untouched): W + s·BA, or
    /// for DoRA m/‖W + s·BA‖ · (W + s·BA), with that norm. A merged export writes it without merging in place.
    /// </summary>
    internal Tensor FoldedWeight(string name, out Tensor? doraNorm)
    {
        var adapter = _adapters[name];
        using (Autograd.NoGrad())
        {
            var merged = Weight.To(DType.F32) + adapter.Delta();
            doraNorm = adapter.Magnitude is null ? null : LoraAdapter.RowNorm(Weight, adapter);
            return doraNorm is null ? merged : merged * (adapter.Magnitude! / doraNorm).Unsqueeze(1);
        }
    }

    /// <summary>Takes the merged adapter back out of W (up to rounding in W's dtype).</summary>
    internal void Unmerge()
    {
        if (MergedAdapter is not { } name)
            return;
        var adapter = _adapters[name];
        using (Autograd.NoGrad())
        using (new DisposeScope())
        {
            var w = Weight.To(DType.F32);
            if (adapter.Magnitude is not null)
                w = w * (_mergedNorm! / adapter.Magnitude).Unsqueeze(1);
            Weight.CopyFrom(w - adapter.Delta());
        }
        _mergedNorm?.Dispose();
        _mergedNorm = null;
        MergedAdapter = null;
    }
}

/// <summary>Token embedding table [vocab, dim].</summary>
public sealed class Embedding : Module
{
    /// <summary>
    /// The table <paramref name="key"/> ("model.embed_tokens") of <paramref name="vocab"/> rows of
    /// <paramref name="dim"/>, from <paramref name="source"/>.
    /// </summary>
    public Embedding(IParameterSource source, string key, int vocab, int dim)
        => Weight = Parameter("weight", source.Get(key + ".weight", [vocab, dim], ParameterKind.Matrix));

    /// <summary>
    /// The table [vocab, dim]: float32 when trained (modules_to_save), else the model's weight dtype.
    /// </summary>
    public Tensor Weight { get; private set; }

    /// <summary>Keeps the table in float32 (a trained embedding is; a frozen one may be 16-bit).</summary>
    internal void ToFloat32()
    {
        if (Weight.DType != DType.F32)
            Weight = Replace("weight", Weight.To(DType.F32));
    }

    /// <summary>ids (I32/I64, any shape) → [..., dim]: each id's row.</summary>
    public Tensor Forward(Tensor ids)
    {
        using var profile = Profiled();
        return Weight.Embedding(ids);
    }
}

/// <summary>RMSNorm with a learned scale, over the last dim.</summary>
public sealed class RmsNorm : Module
{
    private readonly float _eps;

    /// <summary>
    /// The norm <paramref name="key"/> ("model.norm") over <paramref name="dim"/> features with ε =
    /// <paramref name="eps"/>, its weight from <paramref name="source"/>.
    /// </summary>
    public RmsNorm(IParameterSource source, string key, int dim, double eps)
    {
        _eps = (float)eps;
        Weight = Parameter("weight", source.Get(key + ".weight", [dim], ParameterKind.Norm));
    }

    /// <summary>The learned scale [dim], float32.</summary>
    public Tensor Weight { get; }

    /// <summary>x [..., dim] normalised by its root mean square and scaled by <see cref="Weight"/>.</summary>
    public Tensor Forward(Tensor x)
    {
        using var profile = Profiled();
        return x.RmsNorm(Weight, _eps);
    }
}
