using RawLongLoRA.Profiling;

namespace RawLongLoRA.Training;

/// <summary>
/// torch.optim.AdamW over named float32 parameters, through the backend's fused kernel
/// (<see cref="IBackend.AdamW"/>). As in torch, each parameter's state (exp_avg, exp_avg_sq, step) is made
/// at its first update and a parameter without a gradient is skipped without counting a step, so a run
/// matches torch's step for step. The state lives on the parameter's device, float32, and is owned here.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly ParamState[] _params;

    /// <summary>
    /// An optimizer over <paramref name="parameters"/> (name, tensor: contiguous float32 leaves, names unique —
    /// <see cref="Model.CausalLM.TrainableParameters"/> gives them) with <paramref name="options"/> (default:
    /// <see cref="AdamWOptions"/>'s). It updates the tensors in place and owns only its state.
    /// </summary>
    public AdamW(IReadOnlyList<(string Name, Tensor Param)> parameters, AdamWOptions? options = null)
    {
        Options = options ?? new AdamWOptions();
        Validate(Options);
        var names = new HashSet<string>(StringComparer.Ordinal);
        _params = new ParamState[parameters.Count];
        for (int i = 0; i < parameters.Count; i++)
        {
            var (name, p) = parameters[i];
            if (!names.Add(name))
                throw new ArgumentException($"adamw: the parameter name '{name}' is given twice", nameof(parameters));
            if (p.DType != DType.F32 || !p.IsContiguous)
                throw new ArgumentException($"adamw: parameter '{name}' must be a contiguous float32 tensor (the master copy), not {p.Describe()}", nameof(parameters));
            _params[i] = new ParamState(name, p, Options.Decays?.Invoke(name, p) ?? true);
        }
    }

    /// <summary>The hyper-parameters it was made with.</summary>
    public AdamWOptions Options { get; }

    /// <summary>One update with <see cref="AdamWOptions.Lr"/>.</summary>
    public void Step() => Step(Options.Lr);

    /// <summary>One update of every parameter that has a gradient, with this step's learning rate.</summary>
    public void Step(float lr)
    {
        if (!(lr >= 0) || float.IsInfinity(lr))
            throw new ArgumentOutOfRangeException(nameof(lr), lr, "adamw: the learning rate must be finite and not negative");
        using var profile = Profiler.Record("AdamW.step");
        foreach (var s in _params)
        {
            if (s.Param.Grad is not { } grad)
                continue;
            s.ExpAvg ??= Tensor.Zeros(s.Param.ShapeArray, DType.F32, s.Param.Device).DetachFromScope();
            s.ExpAvgSq ??= Tensor.Zeros(s.Param.ShapeArray, DType.F32, s.Param.Device).DetachFromScope();
            s.Step++;
            var o = Options;
            var step = new AdamWStep(lr, o.Beta1, o.Beta2, o.Eps, s.Decays ? o.WeightDecay : 0, s.Step);
            s.Param.Device.Backend.AdamW(s.Param, grad, s.ExpAvg, s.ExpAvgSq, step);
            s.Param.Storage.BumpVersion(); // a graph that saved the old value must not backward through the new one
        }
    }

    /// <summary>Drops every gradient (disposing it: a leaf owns its gradient), as torch's zero_grad(set_to_none=True).</summary>
    public void ZeroGrad()
    {
        foreach (var s in _params)
        {
            s.Param.Grad?.Dispose();
            s.Param.Grad = null;
        }
    }

    /// <summary>
    /// The state as named tensors for a checkpoint: "&lt;name&gt;.exp_avg", "&lt;name&gt;.exp_avg_sq" (float32,
    /// the parameter's shape) and "&lt;name&gt;.step" (int64 scalar) for every parameter updated so far. The
    /// caller owns and disposes the returned handles; exp_avg and exp_avg_sq share the live storage (no
    /// copy of a large state), so write them out before the next <see cref="Step(float)"/>.
    /// </summary>
    public List<(string Name, Tensor Tensor)> ExportState()
    {
        var state = new List<(string Name, Tensor Tensor)>();
        foreach (var s in _params)
        {
            if (s.ExpAvg is null || s.ExpAvgSq is null)
                continue;
            state.Add((s.Name + ExpAvgSuffix, s.ExpAvg.Restride(s.ExpAvg.Layout)));
            state.Add((s.Name + ExpAvgSqSuffix, s.ExpAvgSq.Restride(s.ExpAvgSq.Layout)));
            state.Add((s.Name + StepSuffix, Tensor.FromArray(new long[] { s.Step }, [])));
        }
        return state;
    }

    /// <summary>
    /// Replaces the state with an <see cref="ExportState"/> (copied in, so the caller keeps its tensors).
    /// Parameters it does not mention start afresh; a name, shape or dtype that does not fit throws, and
    /// then nothing has changed.
    /// </summary>
    public void ImportState(IEnumerable<(string Name, Tensor Tensor)> state)
    {
        var byParam = _params.ToDictionary(s => s.Name, _ => new Tensor?[Suffixes.Length], StringComparer.Ordinal);
        foreach (var (key, t) in state)
        {
            int slot = Array.FindIndex(Suffixes, x => key.EndsWith(x, StringComparison.Ordinal));
            if (slot < 0)
                throw new ArgumentException($"adamw: state entry '{key}' is none of <param>{string.Join(", <param>", Suffixes)}");
            if (!byParam.TryGetValue(key[..^Suffixes[slot].Length], out var entries))
                throw new ArgumentException($"adamw: state entry '{key}' names no parameter of this optimizer");
            entries[slot] = t;
        }
        foreach (var s in _params)
            CheckImport(s, byParam[s.Name]);

        foreach (var s in _params)
        {
            s.Reset();
            var e = byParam[s.Name];
            if (e[0] is null)
                continue;
            s.ExpAvg = Tensor.EmptyLike(s.Param).DetachFromScope().CopyFrom(e[0]!);
            s.ExpAvgSq = Tensor.EmptyLike(s.Param).DetachFromScope().CopyFrom(e[1]!);
            s.Step = checked((int)e[2]!.ToArray<long>()[0]);
        }
    }

    /// <summary>Frees the optimizer state (exp_avg, exp_avg_sq); the parameters are the caller's.</summary>
    public void Dispose()
    {
        foreach (var s in _params)
            s.Reset();
    }

    private const string ExpAvgSuffix = ".exp_avg", ExpAvgSqSuffix = ".exp_avg_sq", StepSuffix = ".step";

    /// <summary>Entry suffixes, in the slot order <see cref="ImportState"/> collects them.</summary>
    private static readonly string[] Suffixes = [ExpAvgSuffix, ExpAvgSqSuffix, StepSuffix];

    private static void CheckImport(ParamState s, Tensor?[] e)
    {
        if (e.All(t => t is null))
            return;
        if (e.Any(t => t is null))
            throw new ArgumentException($"adamw: the state of '{s.Name}' needs all of {ExpAvgSuffix}, {ExpAvgSqSuffix} and {StepSuffix}");
        for (int i = 0; i < 2; i++)
            if (e[i]!.DType != DType.F32 || !e[i]!.Shape.SequenceEqual(s.Param.Shape))
                throw new ArgumentException($"adamw: state {s.Name}{(i == 0 ? ExpAvgSuffix : ExpAvgSqSuffix)} is {e[i]!.Describe()}; the parameter is {s.Param.Describe()} and the state must be float32 of its shape");
        if (e[2]!.DType != DType.I64 || e[2]!.Numel != 1 || e[2]!.ToArray<long>()[0] is < 1 or > int.MaxValue)
            throw new ArgumentException($"adamw: state {s.Name}{StepSuffix} must be one int64 from 1 to {int.MaxValue}, not {e[2]!.Describe()}");
    }

    private static void Validate(AdamWOptions o)
    {
        if (!(o.Lr >= 0) || float.IsInfinity(o.Lr))
            throw new ArgumentOutOfRangeException(nameof(o.Lr), o.Lr, "adamw: lr must be finite and not negative");
        if (!(o.Beta1 >= 0 && o.Beta1 < 1) || !(o.Beta2 >= 0 && o.Beta2 < 1))
            throw new ArgumentOutOfRangeException(nameof(o.Beta1), $"adamw: betas must lie in [0, 1), not ({o.Beta1}, {o.Beta2})");
        if (!(o.Eps >= 0) || !(o.WeightDecay >= 0) || double.IsInfinity(o.Eps) || double.IsInfinity(o.WeightDecay))
            throw new ArgumentOutOfRangeException(nameof(o.Eps), $"adamw: eps and weight_decay must be finite and not negative, not {o.Eps} and {o.WeightDecay}");
    }

    private sealed class ParamState(string name, Tensor param, bool decays)
    {
        public string Name { get; } = name;
        public Tensor Param { get; } = param;
        public bool Decays { get; } = decays;
        public Tensor? ExpAvg { get; set; }
        public Tensor? ExpAvgSq { get; set; }
        public int Step { get; set; }

        public void Reset()
        {
            ExpAvg?.Dispose();
            ExpAvgSq?.Dispose();
            ExpAvg = ExpAvgSq = null;
            Step = 0;
        }
    }
}
