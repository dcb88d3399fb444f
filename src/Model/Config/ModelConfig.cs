using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RawLongLoRA.Model;

/// <summary>
/// A Hugging Face config.json of a supported causal LM (see <see cref="ModelFamily"/>), read into
/// what the model layer needs, with the file's own JSON kept so that a changed config can be written
/// back with every key this class does not know. Immutable: <see cref="WithRope"/> makes a changed
/// copy by editing the JSON and reading it again, so the properties and <see cref="ToJson"/> never
/// disagree. Defaults where a key is absent are those of transformers' config classes.
/// </summary>
public sealed class ModelConfig
{
    /// <summary>How config files are written: two-space indent, non-ASCII text as it is.</summary>
    internal static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private JsonObject _json = null!;
    private RopeStyle _ropeStyle;

    private ModelConfig() { }

    /// <summary>The file this came from, or the name given to <see cref="Parse"/>; errors name it.</summary>
    public string SourceName { get; private init; } = "";

    /// <summary>The Hugging Face class, e.g. "LlamaForCausalLM".</summary>
    public string Architecture { get; private init; } = "";

    /// <summary>Which graph the architecture is (Llama, Mistral, Qwen2, Qwen3).</summary>
    public ModelFamily Family { get; private init; }
    /// <summary>hidden_size: the width of the residual stream.</summary>
    public int HiddenSize { get; private init; }
    /// <summary>intermediate_size: the width of the SwiGLU MLP's gate and up projections.</summary>
    public int IntermediateSize { get; private init; }
    /// <summary>num_hidden_layers: the number of decoder layers.</summary>
    public int NumLayers { get; private init; }
    /// <summary>num_attention_heads: query heads per layer.</summary>
    public int NumHeads { get; private init; }
    /// <summary>
    /// num_key_value_heads: key/value heads per layer (fewer than query heads for grouped-query attention);
    /// num_attention_heads where absent.
    /// </summary>
    public int NumKvHeads { get; private init; }

    /// <summary>head_dim where given (Qwen3 sets it apart from hidden / heads), else hidden_size / num_attention_heads.</summary>
    public int HeadDim { get; private init; }

    /// <summary>vocab_size: rows of the embedding and of the LM head.</summary>
    public int VocabSize { get; private init; }
    /// <summary>
    /// max_position_embeddings: the context the RoPE tables are built for (longer after a context extension).
    /// </summary>
    public int MaxPositionEmbeddings { get; private init; }
    /// <summary>rms_norm_eps: the ε inside every RMSNorm.</summary>
    public double RmsNormEps { get; private init; }

    /// <summary>lm_head shares the embedding matrix (a checkpoint's own lm_head.weight is then redundant).</summary>
    public bool TieWordEmbeddings { get; private init; }

    /// <summary>q, k and v projections have a bias: always for Qwen2, attention_bias for Llama and Qwen3.</summary>
    public bool AttentionBias { get; private init; }

    /// <summary>o_proj has a bias: attention_bias for Llama and Qwen3, never for Qwen2 and Mistral.</summary>
    public bool OutputBias { get; private init; }

    /// <summary>Qwen3's per-head RMSNorm of q and k before RoPE.</summary>
    public bool QkNorm { get; private init; }

    /// <summary>The dtype the checkpoint was saved in (torch_dtype, or dtype in newer files); float32 where absent.</summary>
    public DType TorchDtype { get; private init; }

    /// <summary>bos_token_id, where the config has one.</summary>
    public int? BosTokenId { get; private init; }

    /// <summary>eos_token_id, which may be one id or a list; empty where absent.</summary>
    public IReadOnlyList<int> EosTokenIds { get; private init; } = [];

    /// <summary>pad_token_id, where the config has one.</summary>
    public int? PadTokenId { get; private init; }

    /// <summary>
    /// The attention window the model was trained with, where the config turns one on (Mistral's
    /// sliding_window; Qwen's when use_sliding_window is true). The attention here is full: a window
    /// shorter than the context makes results differ from transformers', which the caller may refuse.
    /// </summary>
    public int? SlidingWindow { get; private init; }

    /// <summary>Always "silu" or its alias "swish": the MLP is SwiGLU.</summary>
    public string HiddenAct { get; private init; } = "";

    /// <summary>The RoPE base and scaling (rope_theta and rope_scaling / rope_parameters).</summary>
    public RopeConfig Rope { get; private init; } = new();

    /// <summary>Reads config.json, or a model folder's config.json.</summary>
    public static ModelConfig Load(string path)
    {
        if (Directory.Exists(path))
            path = Path.Combine(path, "config.json");
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(path, null, $"cannot read the config: {e.Message}", e);
        }
        return Parse(text, path);
    }

    /// <summary>Reads a config.json text; <paramref name="sourceName"/> is what errors call it.</summary>
    public static ModelConfig Parse(string json, string sourceName)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new ConfigException(sourceName, null, $"is not valid JSON: {e.Message}", e);
        }
        if (node is not JsonObject root)
            throw new ConfigException(sourceName, null, "is not a JSON object");

        var r = new ConfigReader(sourceName, root);
        var (architecture, family) = ReadArchitecture(r);
        int hidden = r.PositiveInt("hidden_size");
        int heads = r.PositiveInt("num_attention_heads");
        int kvHeads = r.OptionalPositiveInt("num_key_value_heads") ?? heads;
        int headDim = r.OptionalPositiveInt("head_dim") ?? (heads > 0 ? hidden / heads : 0);
        int maxPositions = r.PositiveInt("max_position_embeddings");
        if (heads > 0 && kvHeads > 0)
            r.Check(heads % kvHeads == 0, "num_key_value_heads", $"'num_key_value_heads' ({kvHeads}) must divide num_attention_heads ({heads})");
        if (hidden > 0 && heads > 0)
            r.Check(headDim > 0 && headDim % 2 == 0, r.Has("head_dim") ? "head_dim" : "hidden_size",
                $"the head dimension must be even for RoPE and at least 2, got {headDim}");

        bool attentionBias = r.OptionalBool("attention_bias") ?? false;
        r.Check(r.OptionalBool("mlp_bias") != true, "mlp_bias", "'mlp_bias' true is not supported: the MLP projections have no bias");
        string act = r.OptionalString("hidden_act") ?? "silu";
        r.Check(act is "silu" or "swish", "hidden_act", $"'hidden_act' is '{act}'; supported: silu (the MLP is SwiGLU)");
        double eps = r.OptionalNumber("rms_norm_eps") ?? 1e-6;
        r.Check(eps > 0, "rms_norm_eps", $"'rms_norm_eps' must be positive, got {eps}");
        var (rope, ropeStyle) = RopeConfigJson.Read(r, maxPositions, headDim);

        var config = new ModelConfig
        {
            _json = root,
            _ropeStyle = ropeStyle,
            SourceName = sourceName,
            Architecture = architecture,
            Family = family,
            HiddenSize = hidden,
            IntermediateSize = r.PositiveInt("intermediate_size"),
            NumLayers = r.PositiveInt("num_hidden_layers"),
            NumHeads = heads,
            NumKvHeads = kvHeads,
            HeadDim = headDim,
            VocabSize = r.PositiveInt("vocab_size"),
            MaxPositionEmbeddings = maxPositions,
            RmsNormEps = eps,
            TieWordEmbeddings = r.OptionalBool("tie_word_embeddings") ?? false,
            AttentionBias = family == ModelFamily.Qwen2 || (family is ModelFamily.Llama or ModelFamily.Qwen3 && attentionBias),
            OutputBias = family is ModelFamily.Llama or ModelFamily.Qwen3 && attentionBias,
            QkNorm = family == ModelFamily.Qwen3,
            TorchDtype = ReadDType(r),
            BosTokenId = r.OptionalInt("bos_token_id"),
            EosTokenIds = r.OptionalInts("eos_token_id") ?? [],
            PadTokenId = r.OptionalInt("pad_token_id"),
            SlidingWindow = family switch
            {
                ModelFamily.Mistral => r.OptionalPositiveInt("sliding_window"),
                ModelFamily.Qwen2 or ModelFamily.Qwen3 when r.OptionalBool("use_sliding_window") == true => r.OptionalPositiveInt("sliding_window"),
                _ => null,
            },
            HiddenAct = act,
            Rope = rope,
        };
        r.ThrowIfAny();
        return config;
    }

    /// <summary>The config as JSON (two-space indent): the file's keys in its order, with what was changed.</summary>
    public string ToJson() => _json.ToJsonString(Indented) + "\n";

    /// <summary>
    /// This config with another RoPE and max_position_embeddings (LongLoRA sets linear factor =
    /// target / original and max_position_embeddings = target), written in the spelling the file used
    /// (rope_scaling or rope_parameters) and keeping every other key. For yarn, llama3 and longrope
    /// without an original length, the pretraining length stays this config's. Dynamic NTK scales
    /// from max_position_embeddings itself in transformers, so raising it delays the scaling.
    /// </summary>
    public ModelConfig WithRope(RopeConfig rope, int maxPositionEmbeddings)
    {
        if (rope.Type.ScalesFromOriginalLength() && rope.OriginalMaxPositionEmbeddings is null)
            rope = rope with { OriginalMaxPositionEmbeddings = Rope.OriginalMaxPositionEmbeddings ?? MaxPositionEmbeddings };
        var json = (JsonObject)_json.DeepClone();
        json["max_position_embeddings"] = maxPositionEmbeddings;
        RopeConfigJson.Write(json, rope, _ropeStyle);
        return Parse(json.ToJsonString(), SourceName);
    }

    private static (string Architecture, ModelFamily Family) ReadArchitecture(ConfigReader r)
    {
        var architectures = r.OptionalStrings("architectures");
        if (architectures is { Length: > 0 })
        {
            foreach (var s in ModelFamilies.Supported)
                if (architectures.Contains(s.Architecture))
                    return (s.Architecture, s.Family);
            r.Problem("architectures", $"'architectures' is [{string.Join(", ", architectures)}]; supported: {ModelFamilies.SupportedArchitectures}");
            return ("", default);
        }
        // A config saved without a model (architectures null) still names its model_type.
        if (r.OptionalString("model_type") is { } modelType)
        {
            foreach (var s in ModelFamilies.Supported)
                if (s.ModelType == modelType)
                    return (s.Architecture, s.Family);
            r.Problem("model_type", $"'model_type' is '{modelType}'; supported: {ModelFamilies.SupportedModelTypes}");
            return ("", default);
        }
        if (architectures is null)
            r.Missing("architectures");
        else
            r.Problem("architectures", $"'architectures' is empty; supported: {ModelFamilies.SupportedArchitectures}");
        return ("", default);
    }

    private static DType ReadDType(ConfigReader r)
    {
        string key = r.Has("dtype") ? "dtype" : "torch_dtype";
        string? name = r.OptionalString(key);
        if (name is null)
            return DType.F32;
        foreach (var t in (ReadOnlySpan<DType>)[DType.F32, DType.BF16, DType.F16])
            if (t.TorchName() == name)
                return t;
        r.Problem(key, $"'{key}' is '{name}'; supported: float32, bfloat16, float16");
        return DType.F32;
    }
}
