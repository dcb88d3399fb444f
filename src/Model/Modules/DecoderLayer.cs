namespace RawLongLoRA.Model;

/// <summary>One pre-norm decoder block: x + attn(norm(x)), then + mlp(norm(·)).</summary>
public sealed class DecoderLayer : Module
{
    private readonly int _index;

    /// <summary>
    /// Layer <paramref name="index"/> of a model of config <paramref name="c"/>, its parameters from
    /// <paramref name="source"/> under <paramref name="key"/> ("model.layers.3").
    /// </summary>
    public DecoderLayer(IParameterSource source, string key, ModelConfig c, int index)
    {
        _index = index;
        InputLayerNorm = Child("input_layernorm", new RmsNorm(source, key + ".input_layernorm", c.HiddenSize, c.RmsNormEps));
        SelfAttn = Child("self_attn", new SelfAttention(source, key + ".self_attn", c));
        PostAttentionLayerNorm = Child("post_attention_layernorm", new RmsNorm(source, key + ".post_attention_layernorm", c.HiddenSize, c.RmsNormEps));
        Mlp = Child("mlp", new Mlp(source, key + ".mlp", c.HiddenSize, c.IntermediateSize));
    }

    /// <summary>The RMSNorm before attention.</summary>
    public RmsNorm InputLayerNorm { get; }
    /// <summary>The self-attention block.</summary>
    public SelfAttention SelfAttn { get; }
    /// <summary>The RMSNorm before the MLP.</summary>
    public RmsNorm PostAttentionLayerNorm { get; }
    /// <summary>The SwiGLU MLP.</summary>
    public Mlp Mlp { get; }

    /// <summary>
    /// x [B, T, hidden] → [B, T, hidden], with the RoPE tables and positions of <paramref name="rope"/>, the masks of
    /// <paramref name="spec"/> and, when generating, the KV cache.
    /// </summary>
    public Tensor Forward(Tensor x, in RopeInputs rope, AttentionSpec spec, KvCache? cache)
    {
        using var profile = Profiled();
        var h = x + SelfAttn.Forward(InputLayerNorm.Forward(x), rope, spec, cache, _index);
        return h + Mlp.Forward(PostAttentionLayerNorm.Forward(h));
    }
}
