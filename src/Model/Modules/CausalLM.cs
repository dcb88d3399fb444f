namespace RawLongLoRA.Model;

/// <summary>
/// A decoder-only causal language model (Llama 2/3, Mistral, Qwen2, Qwen3): token embedding, N
/// decoder layers, final RMSNorm and the LM head (the embedding itself when tied). Parameters carry
/// their Hugging Face keys.
/// </summary>
public sealed partial class CausalLM : Module
{
    /// <summary>
    /// Builds the model of <paramref name="config"/> with every parameter taken from <paramref name="source"/> under
    /// its Hugging Face key (<see cref="Load(string, DType)"/> reads them from a folder; <see cref="RandomParameters"/> draws them).
    /// The model owns its parameters: dispose it to free them.
    /// </summary>
    public CausalLM(ModelConfig config, IParameterSource source)
    {
        Config = config;
        EmbedTokens = Child("model.embed_tokens", new Embedding(source, "model.embed_tokens", config.VocabSize, config.HiddenSize));
        Layers = new DecoderLayer[config.NumLayers];
        for (int l = 0; l < Layers.Length; l++)
            Layers[l] = Child($"model.layers.{l}", new DecoderLayer(source, $"model.layers.{l}", config, l));
        Norm = Child("model.norm", new RmsNorm(source, "model.norm", config.HiddenSize, config.RmsNormEps));
        if (!config.TieWordEmbeddings)
            LmHead = Child("lm_head", new Linear(source, "lm_head", config.HiddenSize, config.VocabSize, bias: false));
        Rope = new RopeTables(config, Device);
    }

    /// <summary>The device the model's parameters are on, where every tensor its steps make is made.</summary>
    public Device Device => EmbedTokens.Weight.Device;

    /// <summary>
    /// The config the model runs with: the folder's, or the stretched one after <see cref="ExtendContext"/> /
    /// <see cref="SetRope"/>.
    /// </summary>
    public ModelConfig Config { get; private set; }
    /// <summary>model.embed_tokens: the token embedding [vocab, hidden].</summary>
    public Embedding EmbedTokens { get; }
    /// <summary>model.layers: the decoder layers, in order.</summary>
    public DecoderLayer[] Layers { get; }
    /// <summary>model.norm: the RMSNorm after the last layer.</summary>
    public RmsNorm Norm { get; }

    /// <summary>
    /// How every layer computes attention over the positions: <see cref="LocalAttention"/> (one kernel call, the
    /// default), <see cref="BlockwiseAttention"/>, or a sequence-parallel strategy.
    /// </summary>
    public IAttention AttentionStrategy
    {
        get => Layers[0].SelfAttn.Strategy;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            foreach (var layer in Layers)
                layer.SelfAttn.Strategy = value;
        }
    }
    /// <summary>
    /// lm_head [vocab, hidden]; null when the config ties it to the embedding (see <see cref="HeadWeight"/>).
    /// </summary>
    public Linear? LmHead { get; }
    /// <summary>The cos/sin tables of the current RoPE config, grown on demand.</summary>
    public RopeTables Rope { get; private set; }

    /// <summary>
    /// Stretches the context to <paramref name="targetContext"/> tokens by RoPE scaling (see
    /// <see cref="ContextExtension"/>); <see cref="Config"/> then holds the new rope scaling and
    /// max_position_embeddings, which a merged export writes.
    /// </summary>
    public void ExtendContext(int targetContext, RopeType kind = RopeType.Linear)
    {
        var config = ContextExtension.Extend(Config, targetContext, kind);
        if (!ReferenceEquals(config, Config))
            UseConfig(config);
    }

    /// <summary>Takes another RoPE and max_position_embeddings, e.g. those an adapter was trained with.</summary>
    public void SetRope(RopeConfig rope, int maxPositionEmbeddings) => UseConfig(Config.WithRope(rope, maxPositionEmbeddings));

    private void UseConfig(ModelConfig config)
    {
        Config = config;
        Rope.Dispose();
        Rope = new RopeTables(Config, Device);
    }

    /// <summary>Moves the parameters to <paramref name="device"/> (see <see cref="Module.To"/>), and the RoPE tables with them.</summary>
    public override CausalLM To(Device device)
    {
        base.To(device);
        UseConfig(Config);
        return this;
    }

    /// <summary>
    /// Recompute each decoder layer in backward instead of keeping its activations: memory per layer
    /// drops to its input, for one more forward.
    /// </summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>The LM head's weight [vocab, hidden]: lm_head, or the embedding when they are tied.</summary>
    public Tensor HeadWeight => LmHead?.Weight ?? EmbedTokens.Weight;

    /// <summary>
    /// Loads a Hugging Face model folder (config.json, *.safetensors); matrices kept in <paramref name="weightDtype"/>.
    /// A folder whose tensors disagree with the config (<see cref="CheckpointCheck"/>) fails before any weight is read.
    /// </summary>
    public static CausalLM Load(string dir, DType weightDtype = DType.F32) => Load(dir, Device.Cpu, weightDtype);

    /// <summary>
    /// Loads a Hugging Face model folder as <see cref="Load(string, DType)"/> does, onto <paramref name="device"/>: each
    /// weight is copied there as it is read.
    /// </summary>
    public static CausalLM Load(string dir, Device device, DType weightDtype = DType.F32)
    {
        var config = ModelFolder.Config(dir);
        using var source = new CheckpointParameters(dir, config, weightDtype);
        return new CausalLM(config, device.IsCpu ? source : new ParametersOn(source, device));
    }

    /// <summary>
    /// The final hidden states [B, T, hidden] for ids [B, T] on the model's <see cref="Device"/>. Positions default to
    /// 0… (after the cached tokens, with a cache); spec carries the training masks (packed sequences, S2-Attn groups).
    /// <paramref name="positionEnd"/> is one past the largest of <paramref name="positions"/> (what the RoPE tables
    /// must cover); when it is not given it is read from them, which on a device waits for it.
    /// </summary>
    public Tensor Hidden(Tensor ids, Tensor? positions = null, AttentionSpec? spec = null, KvCache? cache = null, int? positionEnd = null)
    {
        if (ids.Rank != 2)
            throw Check.Fail("causal_lm", "ids must be [batch, tokens]", ids);
        using var profile = Profiled();
        int b = ids.Shape[0], t = ids.Shape[1], offset = cache?.Length ?? 0;
        var pos = positions ?? DefaultPositions(b, t, offset, Device);
        int needed = positions is null ? offset + t : positionEnd ?? (int)MaxPosition(pos) + 1;
        var (cos, sin) = Rope.For(needed);
        var rope = new RopeInputs(cos, sin, pos);
        var x = EmbedTokens.Forward(ids);
        var mask = spec ?? AttentionSpec.Causal;
        foreach (var layer in Layers)
            x = GradientCheckpointing && cache is null
                ? Checkpoint.Run(h => layer.Forward(h[0], rope, mask, null), x)
                : layer.Forward(x, rope, mask, cache);
        cache?.Advance(t);
        return Norm.Forward(x);
    }

    /// <summary>Logits [B, T, vocab] (float32).</summary>
    public Tensor Forward(Tensor ids, Tensor? positions = null, AttentionSpec? spec = null, KvCache? cache = null, int? positionEnd = null)
        => Hidden(ids, positions, spec, cache, positionEnd).Linear(HeadWeight);

    /// <summary>Frees every parameter (adapters included) and the RoPE tables.</summary>
    public override void Dispose()
    {
        Rope.Dispose();
        base.Dispose();
    }

    /// <summary>A cache for generation with room for <paramref name="capacity"/> tokens per row.</summary>
    public KvCache NewCache(int batch, int capacity)
        => new(Config.NumLayers, batch, capacity, Config.NumKvHeads, Config.HeadDim, EmbedTokens.Weight.Device);

    private static Tensor DefaultPositions(int b, int t, int offset, Device device)
    {
        var p = new long[(long)b * t];
        for (int i = 0; i < p.Length; i++)
            p[i] = offset + i % t;
        return Tensor.FromArray(p, device: device);
    }

    private static long MaxPosition(Tensor positions)
        => positions.DType == DType.I64 ? positions.ToArray<long>().Max() : positions.ToArray<int>().Max();
}
