using System.Globalization;
using System.Text.Json.Nodes;

namespace RawLongLoRA.Model;

/// <summary>How a config.json spelled its RoPE, so that a rewritten file keeps the spelling.</summary>
/// <param name="Parameters">rope_parameters (transformers 5) rather than top-level rope_theta + rope_scaling.</param>
/// <param name="LegacyTypeKey">The kind was under "type", which transformers before 4.43 read.</param>
internal readonly record struct RopeStyle(bool Parameters, bool LegacyTypeKey)
{
    public string BlockKey => Parameters ? "rope_parameters" : "rope_scaling";
}

/// <summary>
/// RoPE in config.json, both spellings: the older top-level rope_theta with rope_scaling (null for
/// plain RoPE; the kind under rope_type or the legacy type), and transformers 5's rope_parameters,
/// which holds rope_theta too. Precedence follows transformers: a set rope_scaling wins over
/// rope_parameters, a rope_theta in the block over the top-level one, and a top-level
/// original_max_position_embeddings (Phi-3's place for it) over the block's.
/// </summary>
internal static class RopeConfigJson
{
    public static (RopeConfig Rope, RopeStyle Style) Read(ConfigReader top, int maxPositionEmbeddings, int headDim)
    {
        bool parameters = !top.Has("rope_scaling") && top.HasKey("rope_parameters");
        var block = top.OptionalObject(parameters ? "rope_parameters" : "rope_scaling");
        bool legacy = block is not null && !block.Has("rope_type") && block.Has("type");
        string typeKey = legacy ? "type" : "rope_type";
        string typeName = block?.OptionalString(typeKey) ?? "default";
        if (!RopeTypes.TryParse(typeName, out var type))
            block!.Problem(typeKey, $"'{block.Path(typeKey)}' is '{typeName}'; supported: {RopeTypes.Supported}");

        foreach (var r in block is null ? [top] : new[] { top, block })
            if (r.OptionalNumber("partial_rotary_factor") is double p && p != 1)
                r.Problem("partial_rotary_factor", $"'{r.Path("partial_rotary_factor")}' is {p}: partial rotary embeddings are not supported (RoPE rotates the whole head)");

        var thetaFrom = block is not null && block.Has("rope_theta") ? block : top;
        int? original = block?.OptionalPositiveInt("original_max_position_embeddings");
        if (type.ScalesFromOriginalLength())
            original = top.OptionalPositiveInt("original_max_position_embeddings") ?? original ?? maxPositionEmbeddings;
        var rope = new RopeConfig
        {
            Type = type,
            Theta = thetaFrom.OptionalNumber("rope_theta") ?? 10000.0,
            Factor = block?.OptionalNumber("factor"),
            OriginalMaxPositionEmbeddings = original,
            BetaFast = block?.OptionalNumber("beta_fast"),
            BetaSlow = block?.OptionalNumber("beta_slow"),
            Mscale = block?.OptionalNumber("mscale"),
            MscaleAllDim = block?.OptionalNumber("mscale_all_dim"),
            AttentionFactor = block?.OptionalNumber("attention_factor"),
            Truncate = block?.OptionalBool("truncate"),
            LowFreqFactor = block?.OptionalNumber("low_freq_factor"),
            HighFreqFactor = block?.OptionalNumber("high_freq_factor"),
            ShortFactor = block?.OptionalNumbers("short_factor"),
            LongFactor = block?.OptionalNumbers("long_factor"),
        };
        thetaFrom.Check(rope.Theta > 0, "rope_theta", $"'{thetaFrom.Path("rope_theta")}' must be positive, got {rope.Theta}");
        if (block is not null)
            CheckKind(block, rope, headDim);
        return (rope, new RopeStyle(parameters, legacy));
    }

    /// <summary>The keys each kind needs, and values that would make its formulas meaningless.</summary>
    private static void CheckKind(ConfigReader block, RopeConfig rope, int headDim)
    {
        if (rope.Type is RopeType.Linear or RopeType.Dynamic or RopeType.Yarn or RopeType.Llama3 && rope.Factor is null)
            block.Missing("factor");
        block.Check(rope.Factor is null or > 0, "factor", $"'{block.Path("factor")}' must be positive, got {rope.Factor}");
        if (rope.Type == RopeType.Llama3)
        {
            if (rope.LowFreqFactor is null)
                block.Missing("low_freq_factor");
            if (rope.HighFreqFactor is null)
                block.Missing("high_freq_factor");
            block.Check(!(rope.HighFreqFactor <= rope.LowFreqFactor), "high_freq_factor",
                $"'{block.Path("high_freq_factor")}' ({rope.HighFreqFactor}) must be greater than low_freq_factor ({rope.LowFreqFactor})");
        }
        if (rope.Type == RopeType.LongRope)
            foreach (var (key, factors) in new[] { ("short_factor", rope.ShortFactor), ("long_factor", rope.LongFactor) })
            {
                if (factors is null)
                    block.Missing(key);
                else if (headDim > 0)
                    block.Check(factors.Length == headDim / 2 && factors.All(f => f > 0), key,
                        $"'{block.Path(key)}' must hold head_dim / 2 = {headDim / 2} positive numbers, got {factors.Length}");
            }
    }

    /// <summary>Writes <paramref name="rope"/> into <paramref name="root"/> in <paramref name="style"/>, with only the keys its kind takes.</summary>
    public static void Write(JsonObject root, RopeConfig rope, RopeStyle style)
    {
        var block = new JsonObject { ["rope_type"] = rope.Type.JsonName() };
        if (style.LegacyTypeKey)
            block["type"] = rope.Type.JsonName();
        if (style.Parameters)
            block["rope_theta"] = Float(rope.Theta);
        foreach (var (key, value) in KindKeys(rope))
            if (value is not null)
                block[key] = value;

        if (style.Parameters)
            root["rope_parameters"] = block;
        else if (rope.Type != RopeType.Default)
            root["rope_scaling"] = block;
        else if (root.ContainsKey("rope_scaling"))
            root["rope_scaling"] = null;
        if (!style.Parameters || root.ContainsKey("rope_theta"))
            root["rope_theta"] = Float(rope.Theta);
        if (rope.Type.ScalesFromOriginalLength() && root.ContainsKey("original_max_position_embeddings"))
            root["original_max_position_embeddings"] = rope.OriginalMaxPositionEmbeddings;
    }

    // The keys transformers' validation accepts for each kind.
    private static (string Key, JsonNode? Value)[] KindKeys(RopeConfig r) => r.Type switch
    {
        RopeType.Default => [],
        RopeType.Linear or RopeType.Dynamic => [("factor", Float(r.Factor))],
        RopeType.Yarn =>
        [
            ("factor", Float(r.Factor)), ("original_max_position_embeddings", r.OriginalMaxPositionEmbeddings),
            ("attention_factor", Float(r.AttentionFactor)), ("beta_fast", Float(r.BetaFast)), ("beta_slow", Float(r.BetaSlow)),
            ("mscale", Float(r.Mscale)), ("mscale_all_dim", Float(r.MscaleAllDim)), ("truncate", r.Truncate),
        ],
        RopeType.Llama3 =>
        [
            ("factor", Float(r.Factor)), ("original_max_position_embeddings", r.OriginalMaxPositionEmbeddings),
            ("low_freq_factor", Float(r.LowFreqFactor)), ("high_freq_factor", Float(r.HighFreqFactor)),
        ],
        RopeType.LongRope =>
        [
            ("factor", Float(r.Factor)), ("original_max_position_embeddings", r.OriginalMaxPositionEmbeddings),
            ("attention_factor", Float(r.AttentionFactor)), ("short_factor", Floats(r.ShortFactor)), ("long_factor", Floats(r.LongFactor)),
        ],
        _ => throw new ArgumentOutOfRangeException(nameof(r), r.Type, "unknown RoPE type"),
    };

    private static JsonArray? Floats(double[]? values) => values is null ? null : new JsonArray(values.Select(v => Float(v)).ToArray());

    /// <summary>A number as Python's json writes a float (8.0, not 8), so that the file keeps its types.</summary>
    private static JsonNode? Float(double? value)
    {
        if (value is not double v)
            return null;
        if (!double.IsFinite(v))
            throw new ArgumentException($"RoPE parameters must be finite numbers, got {v}");
        string text = v.ToString("R", CultureInfo.InvariantCulture);
        return JsonNode.Parse(double.IsInteger(v) && !text.Contains('E') ? text + ".0" : text);
    }
}
