using System.Text.Json.Nodes;
using RawLongLoRA.Model;

namespace RawLongLoRA.Tests;

/// <summary>Crafted config.json texts: a small Llama with keys set, replaced or removed.</summary>
internal static class ConfigJson
{
    public const string File = "crafted/config.json";

    private const string Llama = """
        {
          "architectures": ["LlamaForCausalLM"],
          "model_type": "llama",
          "hidden_size": 64,
          "intermediate_size": 160,
          "num_hidden_layers": 2,
          "num_attention_heads": 4,
          "num_key_value_heads": 2,
          "vocab_size": 300,
          "max_position_embeddings": 128,
          "rms_norm_eps": 1e-05,
          "rope_theta": 10000.0,
          "tie_word_embeddings": false,
          "torch_dtype": "float32"
        }
        """;

    /// <summary>The small Llama with each key set to the JSON text given ("null" sets null), or removed where the text is null.</summary>
    public static string With(params (string Key, string? Json)[] edits)
    {
        var o = JsonNode.Parse(Llama)!.AsObject();
        foreach (var (key, json) in edits)
            if (json is null)
                o.Remove(key);
            else
                o[key] = JsonNode.Parse(json);
        return o.ToJsonString();
    }

    public static ModelConfig Parse(params (string Key, string? Json)[] edits) => ModelConfig.Parse(With(edits), File);

    /// <summary>The exception parsing fails with; its message must start with the file's name.</summary>
    public static ConfigException Fails(params (string Key, string? Json)[] edits) => FailsOn(With(edits));

    public static ConfigException FailsOn(string json)
    {
        var e = Xunit.Assert.Throws<ConfigException>(() => ModelConfig.Parse(json, File));
        Xunit.Assert.Equal(File, e.File);
        Xunit.Assert.StartsWith(File + ": ", e.Message);
        return e;
    }
}
