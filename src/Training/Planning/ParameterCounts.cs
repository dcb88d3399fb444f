using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// The model's values by how they are kept (CausalLM, CheckpointParameters, CausalLM.Lora.cs): frozen
/// matrices in the weight dtype, frozen norms and biases in float32, and the trained tensors — the
/// adapter's A, B (and DoRA's magnitude) and the modules_to_save — in float32 (a trained embedding is
/// converted to it).
/// </summary>
internal sealed class ParameterCounts
{
    public ParameterCounts(ModelConfig c, LoraConfig lora)
    {
        long h = c.HiddenSize, q = (long)c.NumHeads * c.HeadDim, kv = (long)c.NumKvHeads * c.HeadDim, f = c.IntermediateSize, d = c.HeadDim;
        (string Key, long In, long Out, bool Bias)[] linears =
        [
            ("self_attn.q_proj", h, q, c.AttentionBias), ("self_attn.k_proj", h, kv, c.AttentionBias), ("self_attn.v_proj", h, kv, c.AttentionBias),
            ("self_attn.o_proj", q, h, c.OutputBias), ("mlp.gate_proj", h, f, false), ("mlp.up_proj", h, f, false), ("mlp.down_proj", f, h, false),
        ];
        (string Key, long Size)[] norms = c.QkNorm
            ? [("input_layernorm", h), ("post_attention_layernorm", h), ("self_attn.q_norm", d), ("self_attn.k_norm", d)]
            : [("input_layernorm", h), ("post_attention_layernorm", h)];
        long adapter = 0, savedNorms = 0, frozenNorms = 0;
        foreach (var l in linears.Where(l => lora.Targets("model.layers.0." + l.Key)))
            adapter += lora.R * (l.In + l.Out) + (lora.UseDora ? l.Out : 0);
        foreach (var (key, size) in norms)
        {
            if (lora.Saves("model.layers.0." + key))
                savedNorms += size;
            else
                frozenNorms += size;
        }
        bool finalNorm = lora.Saves("model.norm");
        EmbeddingTrained = lora.Saves("model.embed_tokens");
        HeadTrained = EmbeddingTrained && c.TieWordEmbeddings;
        Embedding = (long)c.VocabSize * h;
        FrozenMatrices = c.NumLayers * linears.Sum(l => l.In * l.Out) + (EmbeddingTrained ? 0 : Embedding) + (c.TieWordEmbeddings ? 0 : Embedding);
        FrozenFloat32 = c.NumLayers * (frozenNorms + linears.Where(l => l.Bias).Sum(l => l.Out)) + (finalNorm ? 0 : h);
        Trained = c.NumLayers * (adapter + savedNorms) + (finalNorm ? h : 0) + (EmbeddingTrained ? Embedding : 0);
    }

    /// <summary>Frozen matrix values (embedding, LM head, projections): kept in the weight dtype.</summary>
    public long FrozenMatrices { get; }

    /// <summary>Frozen norm weights and biases: float32.</summary>
    public long FrozenFloat32 { get; }

    /// <summary>Trained values: each has a float32 master, a gradient and AdamW's two moments.</summary>
    public long Trained { get; }

    /// <summary>Values of the embedding table (vocabulary × hidden).</summary>
    public long Embedding { get; }

    /// <summary>The embedding is among modules_to_save.</summary>
    public bool EmbeddingTrained { get; }

    /// <summary>The LM head is the trained embedding (tied): its backward makes the embedding's gradient.</summary>
    public bool HeadTrained { get; }
}
