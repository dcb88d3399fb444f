namespace RawLongLoRA.Model;

/// <summary>One pre-norm decoder block: x + attn(norm(x)), then + mlp(norm(·)).</summary>
public sealed class DecoderLayer : Module
{
    private readonly int _index;

    public DecoderLayer(IParameterSource source, string key, ModelConfig c, int index)
    {
        _index = index;
        InputLayerNorm = Child("input_layernorm", new RmsNorm(source, key + ".input_layernorm", c.HiddenSize, c.RmsNormEps));
        SelfAttn = Child("self_attn", new SelfAttention(source, key + ".self_attn", c));
        PostAttentionLayerNorm = Child("post_attention_layernorm", new RmsNorm(source, key + ".post_attention_layernorm", c.HiddenSize, c.RmsNormEps));
        Mlp = Child("mlp", new Mlp(source, key + ".mlp", c.HiddenSize, c.IntermediateSize));
    }

    public RmsNorm InputLayerNorm { get; }
    public SelfAttention SelfAttn { get; }
    public RmsNorm PostAttentionLayerNorm { get; }
    public Mlp Mlp { get; }

    public Tensor Forward(Tensor x, in RopeInputs rope, AttentionSpec spec, KvCache? cache)
    {
        using var profile = Profiled();
        var h = x + SelfAttn.Forward(InputLayerNorm.Forward(x), rope, spec, cache, _index);
        return h + Mlp.Forward(PostAttentionLayerNorm.Forward(h));
    }
}
