using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Bad config.json: one ConfigException naming the file and the key, saying what is expected or supported.</summary>
public class ConfigErrorTests
{
    [Fact]
    public void UnknownArchitectureListsTheSupportedOnes()
    {
        var e = ConfigJson.Fails(("architectures", """["GPTNeoXForCausalLM"]"""));
        Assert.Equal("architectures", e.Field);
        Assert.Contains("GPTNeoXForCausalLM", e.Message);
        foreach (var supported in new[] { "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM" })
            Assert.Contains(supported, e.Message);
    }

    [Fact]
    public void UnknownModelTypeListsTheSupportedOnes()
    {
        var e = ConfigJson.Fails(("architectures", null), ("model_type", "\"gemma\""));
        Assert.Equal("model_type", e.Field);
        Assert.Contains("llama, mistral, qwen2, qwen3", e.Message);
    }

    [Fact]
    public void EmptyArchitectures()
    {
        Assert.Equal("architectures", ConfigJson.Fails(("architectures", "[]"), ("model_type", null)).Field);
    }

    [Fact]
    public void AllMissingKeysAtOnce()
    {
        var e = ConfigJson.Fails(("architectures", null), ("model_type", null), ("hidden_size", null), ("vocab_size", null),
            ("num_hidden_layers", "null"), ("max_position_embeddings", null));
        Assert.Contains("missing required keys", e.Message);
        foreach (var key in new[] { "architectures", "hidden_size", "vocab_size", "num_hidden_layers", "max_position_embeddings" })
        {
            Assert.Contains(key, e.Message);
            Assert.Contains(key, e.Field);
        }
        Assert.DoesNotContain("positive", e.Message); // a missing key is reported once
    }

    [Theory]
    [InlineData("hidden_size", "\"64\"", "'hidden_size' must be an integer, got string \"64\"")]
    [InlineData("hidden_size", "64.5", "'hidden_size' must be an integer, got number 64.5")]
    [InlineData("rms_norm_eps", "\"1e-5\"", "'rms_norm_eps' must be a number")]
    [InlineData("tie_word_embeddings", "\"yes\"", "'tie_word_embeddings' must be true or false")]
    [InlineData("architectures", "\"LlamaForCausalLM\"", "'architectures' must be an array of strings")]
    [InlineData("eos_token_id", "\"2\"", "'eos_token_id' must be an integer or an array of integers")]
    [InlineData("eos_token_id", "[2, \"3\"]", "'eos_token_id' must be an integer or an array of integers")]
    [InlineData("rope_scaling", "5", "'rope_scaling' must be an object, got number 5")]
    [InlineData("torch_dtype", "16", "'torch_dtype' must be a string")]
    [InlineData("hidden_act", "[\"silu\"]", "'hidden_act' must be a string, got array")]
    public void WrongTypeNamesKeyAndExpectedType(string key, string json, string expected)
    {
        var e = ConfigJson.Fails((key, json));
        Assert.Equal(key, e.Field);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void NestedKeysAreDotted()
    {
        var e = ConfigJson.Fails(("rope_scaling", """{"rope_type": "linear", "factor": "4"}"""));
        Assert.Equal("rope_scaling.factor", e.Field);
        Assert.Contains("'rope_scaling.factor' must be a number, got string \"4\"", e.Message);
    }

    [Fact]
    public void MissingKeysAndWrongTypesTogether()
    {
        var e = ConfigJson.Fails(("vocab_size", null), ("hidden_size", "true"));
        Assert.Contains("missing required key: vocab_size", e.Message);
        Assert.Contains("'hidden_size' must be an integer", e.Message);
        Assert.Equal("vocab_size, hidden_size", e.Field);
    }

    [Theory]
    [InlineData("num_attention_heads", "0")]
    [InlineData("vocab_size", "-3")]
    [InlineData("head_dim", "0")]
    public void CountsMustBePositive(string key, string json)
    {
        var e = ConfigJson.Fails((key, json));
        Assert.Contains($"'{key}' must be positive", e.Message);
    }

    [Fact]
    public void KvHeadsMustDivideHeads()
    {
        var e = ConfigJson.Fails(("num_key_value_heads", "3"));
        Assert.Equal("num_key_value_heads", e.Field);
        Assert.Contains("must divide num_attention_heads (4)", e.Message);
    }

    [Fact]
    public void HeadDimMustBeEven()
    {
        Assert.Equal("head_dim", ConfigJson.Fails(("head_dim", "15")).Field);
        Assert.Equal("hidden_size", ConfigJson.Fails(("hidden_size", "60"), ("num_attention_heads", "4"), ("num_key_value_heads", "4")).Field);
    }

    [Fact]
    public void HiddenActMustBeSilu()
    {
        var e = ConfigJson.Fails(("hidden_act", "\"gelu\""));
        Assert.Equal("hidden_act", e.Field);
        Assert.Contains("'gelu'; supported: silu", e.Message);
        Assert.Equal("swish", ConfigJson.Parse(("hidden_act", "\"swish\"")).HiddenAct);
    }

    [Fact]
    public void MlpBiasIsNotSupported()
    {
        Assert.Equal("mlp_bias", ConfigJson.Fails(("mlp_bias", "true")).Field);
        ConfigJson.Parse(("mlp_bias", "false"));
    }

    [Fact]
    public void PartialRotaryIsNotSupported()
    {
        var top = ConfigJson.Fails(("partial_rotary_factor", "0.5"));
        Assert.Equal("partial_rotary_factor", top.Field);
        Assert.Contains("not supported", top.Message);
        var inBlock = ConfigJson.Fails(("rope_parameters", """{"rope_type": "default", "partial_rotary_factor": 0.25}"""));
        Assert.Equal("rope_parameters.partial_rotary_factor", inBlock.Field);
        ConfigJson.Parse(("partial_rotary_factor", "1.0"));
    }

    [Fact]
    public void UnknownDTypeListsTheSupportedOnes()
    {
        var e = ConfigJson.Fails(("torch_dtype", "\"float64\""));
        Assert.Equal("torch_dtype", e.Field);
        Assert.Contains("supported: float32, bfloat16, float16", e.Message);
    }

    [Theory]
    [InlineData("rope_type", "rope_scaling.rope_type")]
    [InlineData("type", "rope_scaling.type")]
    public void UnknownRopeTypeListsTheSupportedOnes(string key, string field)
    {
        var e = ConfigJson.Fails(("rope_scaling", $$"""{"{{key}}": "su", "factor": 2.0}"""));
        Assert.Equal(field, e.Field);
        Assert.Contains("'su'; supported: default, linear, dynamic, yarn, llama3, longrope", e.Message);
    }

    [Theory]
    [InlineData("""{"rope_type": "linear"}""", "rope_scaling.factor")]
    [InlineData("""{"rope_type": "dynamic"}""", "rope_scaling.factor")]
    [InlineData("""{"rope_type": "yarn", "original_max_position_embeddings": 64}""", "rope_scaling.factor")]
    [InlineData("""{"rope_type": "llama3"}""", "rope_scaling.factor, rope_scaling.low_freq_factor, rope_scaling.high_freq_factor")]
    [InlineData("""{"rope_type": "longrope"}""", "rope_scaling.short_factor, rope_scaling.long_factor")]
    public void MissingRopeKeysAreListed(string rope, string fields)
    {
        var e = ConfigJson.Fails(("rope_scaling", rope));
        Assert.Equal(fields, e.Field);
        Assert.Contains("missing required key", e.Message);
    }

    [Theory]
    [InlineData("""{"rope_type": "linear", "factor": 0}""", "rope_scaling.factor", "must be positive")]
    [InlineData("""{"rope_type": "llama3", "factor": 8, "low_freq_factor": 4, "high_freq_factor": 1}""", "rope_scaling.high_freq_factor", "must be greater than low_freq_factor")]
    [InlineData("""{"rope_type": "longrope", "short_factor": [1, 1], "long_factor": [1, 1, 1, 1, 1, 1, 1, 1]}""", "rope_scaling.short_factor", "head_dim / 2 = 8 positive numbers, got 2")]
    [InlineData("""{"rope_type": "yarn", "factor": 2, "original_max_position_embeddings": -1}""", "rope_scaling.original_max_position_embeddings", "must be positive")]
    [InlineData("""{"rope_type": "default", "rope_theta": 0}""", "rope_scaling.rope_theta", "must be positive")]
    public void BadRopeValues(string rope, string field, string expected)
    {
        var e = ConfigJson.Fails(("rope_scaling", rope));
        Assert.Equal(field, e.Field);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("{\"hidden_size\": 64,", "is not valid JSON")]
    [InlineData("[1, 2]", "is not a JSON object")]
    [InlineData("", "is not valid JSON")]
    public void NotAConfigAtAll(string text, string expected)
    {
        var e = ConfigJson.FailsOn(text);
        Assert.Null(e.Field);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void DuplicateKeysAreMalformed()
    {
        ConfigJson.FailsOn("""{"hidden_size": 64, "hidden_size": 128}""");
        ConfigJson.FailsOn("""{"rope_scaling": {"factor": 2, "factor": 3}}""");
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        string path = Path.Combine(Path.GetTempPath(), "rawlora-no-such-dir", "config.json");
        var e = Assert.Throws<ConfigException>(() => ModelConfig.Load(path));
        Assert.Equal(path, e.File);
        Assert.StartsWith(path + ": cannot read", e.Message);
    }

    [Fact]
    public void WithRopeChecksTheNewRope()
    {
        var c = ConfigJson.Parse();
        var e = Assert.Throws<ConfigException>(() => c.WithRope(new RopeConfig { Type = RopeType.Linear }, 512));
        Assert.Equal("rope_scaling.factor", e.Field);
        Assert.Throws<ArgumentException>(() => c.WithRope(new RopeConfig { Type = RopeType.Linear, Factor = double.NaN }, 512));
    }
}
