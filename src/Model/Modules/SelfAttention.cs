namespace RawLongLoRA.Model;

/// <summary>
/// Grouped-query self-attention of Llama / Qwen2 / Qwen3: q, k, v projections (with bias where the
/// family has one), Qwen3's per-head q/k RMSNorm before RoPE, RoPE at explicit positions, the causal
/// attention kernel with the masks of the spec, then o_proj.
/// </summary>
public sealed class SelfAttention : Module
{
    private readonly int _heads, _kvHeads, _headDim;

    /// <summary>
    /// The attention block <paramref name="key"/> ("model.layers.0.self_attn") of a model of config
    /// <paramref name="c"/>, its parameters from <paramref name="source"/>.
    /// </summary>
    public SelfAttention(IParameterSource source, string key, ModelConfig c)
    {
        (_heads, _kvHeads, _headDim) = (c.NumHeads, c.NumKvHeads, c.HeadDim);
        QProj = Child("q_proj", new Linear(source, key + ".q_proj", c.HiddenSize, _heads * _headDim, c.AttentionBias));
        KProj = Child("k_proj", new Linear(source, key + ".k_proj", c.HiddenSize, _kvHeads * _headDim, c.AttentionBias));
        VProj = Child("v_proj", new Linear(source, key + ".v_proj", c.HiddenSize, _kvHeads * _headDim, c.AttentionBias));
        OProj = Child("o_proj", new Linear(source, key + ".o_proj", _heads * _headDim, c.HiddenSize, c.OutputBias));
        if (c.QkNorm)
        {
            QNorm = Child("q_norm", new RmsNorm(source, key + ".q_norm", _headDim, c.RmsNormEps));
            KNorm = Child("k_norm", new RmsNorm(source, key + ".k_norm", _headDim, c.RmsNormEps));
        }
    }

    /// <summary>q_proj [heads · head_dim, hidden].</summary>
    public Linear QProj { get; }
    /// <summary>k_proj [kv_heads · head_dim, hidden].</summary>
    public Linear KProj { get; }
    /// <summary>v_proj [kv_heads · head_dim, hidden].</summary>
    public Linear VProj { get; }
    /// <summary>o_proj [hidden, heads · head_dim].</summary>
    public Linear OProj { get; }
    /// <summary>Qwen3's q_norm over each head's head_dim; null for the other families.</summary>
    public RmsNorm? QNorm { get; }
    /// <summary>Qwen3's k_norm over each head's head_dim; null for the other families.</summary>
    public RmsNorm? KNorm { get; }

    /// <summary>How attention runs over the positions (the model sets it: <see cref="CausalLM.AttentionStrategy"/>).</summary>
    public IAttention Strategy { get; set; } = LocalAttention.Instance;

    /// <summary>x [B, T, hidden] → [B, T, hidden]; with a cache, attends over the cached tokens too.</summary>
    public Tensor Forward(Tensor x, in RopeInputs rope, AttentionSpec spec, KvCache? cache, int layer)
    {
        using var profile = Profiled();
        int b = x.Shape[0], t = x.Shape[1];
        var q = QProj.Forward(x).View(b, t, _heads, _headDim);
        var k = KProj.Forward(x).View(b, t, _kvHeads, _headDim);
        var v = VProj.Forward(x).View(b, t, _kvHeads, _headDim);
        if (QNorm is not null && KNorm is not null)
        {
            q = QNorm.Forward(q);
            k = KNorm.Forward(k);
        }
        q = q.Rope(rope.Cos, rope.Sin, rope.Positions);
        k = k.Rope(rope.Cos, rope.Sin, rope.Positions);
        if (cache is not null)
        {
            (k, v) = cache.Append(layer, k, v);
            spec = spec with { QueryStart = k.Shape[1] - t };
        }
        return OProj.Forward(Strategy.Forward(q, k, v, spec).Reshape(b, t, _heads * _headDim));
    }
}

/// <summary>What RoPE needs for one forward: the cos/sin tables and each token's position (flattened B·T).</summary>
public readonly record struct RopeInputs(Tensor Cos, Tensor Sin, Tensor Positions);
