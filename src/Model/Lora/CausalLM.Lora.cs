namespace RawLongLoRA.Model;

/// <summary>
/// LoRA on a CausalLM: named adapters on the linear layers a <see cref="LoraConfig"/> targets, one
/// active at a time (or merged into the base weights), and the base modules it trains in full
/// (modules_to_save). Everything else stays frozen: no gradient buffer, no weight-gradient GEMM.
/// </summary>
public sealed partial class CausalLM
{
    private readonly Dictionary<string, LoraConfig> _adapterConfigs = [];

    /// <summary>The names of the adapters attached, active or not.</summary>
    public IReadOnlyCollection<string> AdapterNames => _adapterConfigs.Keys;

    /// <summary>The adapter the linear layers apply, or null.</summary>
    public string? ActiveAdapter { get; private set; }

    /// <summary>
    /// The config adapter <paramref name="name"/> was added with; throws <see cref="KeyNotFoundException"/> listing
    /// the names when there is none.
    /// </summary>
    public LoraConfig AdapterConfig(string name) => _adapterConfigs.TryGetValue(name, out var c)
        ? c
        : throw new KeyNotFoundException($"lora: no adapter named '{name}' (have: {string.Join(", ", _adapterConfigs.Keys)})");

    /// <summary>Every linear layer with its key ("model.layers.0.self_attn.q_proj"); the LM head last when untied.</summary>
    public IEnumerable<(string Key, Linear Layer)> LinearLayers()
        => NamedModules().Where(m => m.Module is Linear).Select(m => (m.Name, (Linear)m.Module));

    /// <summary>
    /// Attaches a new adapter to every targeted linear layer (A drawn from <paramref name="seed"/>
    /// layer by layer, B zero), makes it the active one, and makes its modules_to_save trainable.
    /// </summary>
    public void AddAdapter(string name, LoraConfig config, ulong seed)
    {
        config.Validate();
        if (_adapterConfigs.ContainsKey(name))
            throw new ArgumentException($"lora: an adapter named '{name}' exists already", nameof(name));
        var targets = LinearLayers().Where(l => config.Targets(l.Key)).ToList();
        if (targets.Count == 0)
            throw new ArgumentException($"lora: target_modules [{string.Join(", ", config.TargetModules)}] match no linear layer of this model " +
                                        $"(its layers end in: {string.Join(", ", LinearLayers().Select(l => l.Key[(l.Key.LastIndexOf('.') + 1)..]).Distinct())})");
        foreach (string save in config.ModulesToSave)
            if (!SavableModules().Any(m => m.Key.EndsWith(save, StringComparison.Ordinal)))
                throw new ArgumentException($"lora: modules_to_save '{save}' matches no embedding or norm of this model (expected embed_tokens or norm)");
        var generator = new Generator(seed);
        foreach (var (_, layer) in targets)
            layer.AddAdapter(name, LoraAdapter.Create(layer.Weight, config, generator));
        _adapterConfigs[name] = config;
        SetActiveAdapter(name);
    }

    /// <summary>Switches the adapter the layers apply (null: none); only the active adapter's tensors want gradients.</summary>
    public void SetActiveAdapter(string? name)
    {
        if (name is not null)
            AdapterConfig(name);
        foreach (var (_, layer) in LinearLayers())
        {
            foreach (var (n, a) in layer.Adapters)
            {
                bool on = n == name;
                a.A.RequiresGrad = a.B.RequiresGrad = on;
                if (a.Magnitude is not null)
                    a.Magnitude.RequiresGrad = on;
            }
            layer.SetActive(name is not null && layer.Adapters.ContainsKey(name) ? name : null);
        }
        ActiveAdapter = name;
        var config = name is null ? null : _adapterConfigs[name];
        foreach (var (key, module) in SavableModules())
        {
            bool train = config?.Saves(key) == true;
            if (train && module is Embedding e)
                e.ToFloat32();
            WeightOf(module).RequiresGrad = train;
        }
    }

    /// <summary>The modules that modules_to_save may name: the embedding and the norms.</summary>
    internal IEnumerable<(string Key, Module Module)> SavableModules() => NamedModules().Where(m => m.Module is Embedding or RmsNorm);

    internal static Tensor WeightOf(Module m) => m switch
    {
        Embedding e => e.Weight,
        RmsNorm n => n.Weight,
        _ => throw new ArgumentException($"lora: {m.GetType().Name} cannot be trained in full", nameof(m)),
    };

    /// <summary>
    /// Removes adapter <paramref name="name"/> from every layer and frees its tensors; if it was active, no adapter
    /// is active afterwards.
    /// </summary>
    public void DeleteAdapter(string name)
    {
        AdapterConfig(name);
        foreach (var (_, layer) in LinearLayers())
            if (layer.Adapters.ContainsKey(name))
                layer.RemoveAdapter(name);
        _adapterConfigs.Remove(name);
        if (ActiveAdapter == name)
            SetActiveAdapter(null);
    }

    /// <summary>Folds the active adapter into the base weights (generation then costs nothing extra).</summary>
    public void MergeAdapter()
    {
        if (ActiveAdapter is null)
            throw new InvalidOperationException("lora: no active adapter to merge");
        foreach (var (_, layer) in LinearLayers())
            layer.Merge();
    }

    /// <summary>Takes a merged adapter back out of the base weights.</summary>
    public void UnmergeAdapter()
    {
        foreach (var (_, layer) in LinearLayers())
            layer.Unmerge();
    }

    /// <summary>The tensors training updates, by name: the active adapter's and its modules_to_save.</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> TrainableParameters()
        => NamedParameters().Where(p => p.Tensor.RequiresGrad).ToList();
}
