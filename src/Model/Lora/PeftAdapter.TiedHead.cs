namespace RawLongLoRA.Model;

/// <summary>
/// A tied LM head in PEFT's format. Where config.json ties the LM head to the embedding and the adapter
/// trains that embedding (LongLoRA's "+" on Qwen2 0.5B, small Qwen3), our model has one trained matrix
/// for both. PEFT, given modules_to_save [embed_tokens], wraps embed_tokens alone in a ModulesToSaveWrapper
/// (its own copy) and leaves lm_head on the base embedding: other logits. So a saved adapter also lists
/// lm_head, with the trained embedding as base_model.model.lm_head.weight, and sets ensure_weight_tying:
/// PEFT 0.18 and later then make lm_head's copy share the weight of embed_tokens' copy (and require the
/// key in the file); 0.14 to 0.17 drop the unknown flag with a warning and load each copy from the file,
/// which holds the same values. Either way PEFT computes our logits.
/// </summary>
public static partial class PeftAdapter
{
    internal const string HeadModule = "lm_head";
    private const string EmbeddingModule = "model.embed_tokens";
    private const string HeadKey = Prefix + HeadModule + ".weight";
    private const string EmbeddingKey = Prefix + EmbeddingModule + ".weight";

    /// <summary>Whether the adapter trains an embedding that is also the model's LM head.</summary>
    private static bool TrainsTiedHead(CausalLM model, LoraConfig config) => model.Config.TieWordEmbeddings && config.Saves(EmbeddingModule);

    /// <summary>
    /// The adapter as this engine holds it: on a tied model, lm_head in modules_to_save is the shared
    /// embedding and leaves the list (ensure_weight_tying with only one of the two trains both, as in PEFT).
    /// One trained without the other and no ensure_weight_tying is refused: PEFT would compute with an
    /// untied head, the base's on one side, and our model has one matrix for both.
    /// </summary>
    private static LoraConfig WithTiedHead(CausalLM model, LoraConfig config, bool ensureWeightTying, string configPath)
    {
        bool head = config.Saves(HeadModule), embedding = config.Saves(EmbeddingModule);
        if (!model.Config.TieWordEmbeddings || !(head || embedding))
            return config;
        if (head != embedding && !ensureWeightTying)
            throw new ConfigException(configPath, "modules_to_save",
                $"'modules_to_save' trains {(embedding ? "embed_tokens but not lm_head" : "lm_head but not embed_tokens")}, which the model's config.json " +
                "ties together (tie_word_embeddings): PEFT would compute with the base's matrix on the other side, but this model has one matrix for both; " +
                "an adapter for it lists both embed_tokens and lm_head (with equal weights) or sets \"ensure_weight_tying\": true");
        var kept = config.ModulesToSave.Where(m => !HeadModule.EndsWith(m, StringComparison.Ordinal)).ToList();
        return config with { ModulesToSave = embedding ? kept : [.. kept, "embed_tokens"] };
    }

    /// <summary>
    /// An adapter for a tied model must hold the same lm_head as embed_tokens. One whose copies differ (PEFT
    /// trained them apart, without ensure_weight_tying) is refused rather than untied: untying would give the
    /// base model a second vocab × hidden matrix as a side effect of loading an adapter, which a merged export,
    /// training (modules_to_save here trains embeddings and norms only) and switching adapters would all have to follow.
    /// </summary>
    private static void CheckTiedHead(SafeTensorsCheckpoint file, Dictionary<string, string> byKey)
    {
        string head = byKey[HeadKey], embedding = byKey[EmbeddingKey];
        using var h = file.Load(head);
        using var e = file.Load(embedding);
        bool same = h.DType == e.DType && (h.DType.Size() == 2
            ? h.AsSpan<ushort>().SequenceEqual(e.AsSpan<ushort>())
            : h.AsSpan<uint>().SequenceEqual(e.AsSpan<uint>()));
        if (!same)
            throw new SafeTensorsException(file.Path, head, "tied",
                $"differs from '{embedding}', but the model's config.json ties lm_head to embed_tokens (tie_word_embeddings) and this engine keeps one matrix for both; " +
                "an adapter for it holds the same values under both keys");
    }
}
