using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>config.json → ModelConfig: the peers' four configs and crafted variants of every spelling.</summary>
public class ConfigParseTests
{
    [Fact]
    public void PeerCpuSmall()
    {
        var c = RopeFixture.Config("peer_cpu_small");
        Assert.Equal(("LlamaForCausalLM", ModelFamily.Llama), (c.Architecture, c.Family));
        Assert.Equal((512, 1376, 8, 8, 4, 64), (c.HiddenSize, c.IntermediateSize, c.NumLayers, c.NumHeads, c.NumKvHeads, c.HeadDim));
        Assert.Equal((8192, 512, 1e-5), (c.VocabSize, c.MaxPositionEmbeddings, c.RmsNormEps));
        Assert.Equal((false, false, false, false), (c.TieWordEmbeddings, c.AttentionBias, c.OutputBias, c.QkNorm));
        Assert.Equal(DType.F32, c.TorchDtype);
        Assert.Equal(new RopeConfig { Type = RopeType.Default, Theta = 10000 }, c.Rope);
        Assert.Equal("silu", c.HiddenAct);
        Assert.Null(c.SlidingWindow);
    }

    [Fact]
    public void PeerLlama2()
    {
        var c = RopeFixture.Config("peer_llama2_7b");
        Assert.Equal((4096, 11008, 32, 32, 32, 128), (c.HiddenSize, c.IntermediateSize, c.NumLayers, c.NumHeads, c.NumKvHeads, c.HeadDim));
        Assert.Equal((32000, 4096), (c.VocabSize, c.MaxPositionEmbeddings));
        Assert.Equal(DType.BF16, c.TorchDtype);
        Assert.Equal(RopeType.Default, c.Rope.Type);
    }

    [Fact]
    public void PeerQwen2TiedWithQkvBias()
    {
        var c = RopeFixture.Config("peer_qwen2_tiny");
        Assert.Equal(("Qwen2ForCausalLM", ModelFamily.Qwen2), (c.Architecture, c.Family));
        Assert.Equal((64, 4, 2, 16), (c.HiddenSize, c.NumHeads, c.NumKvHeads, c.HeadDim));
        Assert.True(c.TieWordEmbeddings);
        Assert.True(c.AttentionBias);
        Assert.False(c.OutputBias);
        Assert.False(c.QkNorm);
        Assert.Equal(1e6, c.Rope.Theta);
    }

    [Fact]
    public void PeerQwen3ExplicitHeadDimQkNormAndYarn()
    {
        var c = RopeFixture.Config("peer_qwen3_tiny_yarn");
        Assert.Equal(("Qwen3ForCausalLM", ModelFamily.Qwen3), (c.Architecture, c.Family));
        Assert.Equal(32, c.HeadDim); // not hidden / heads = 16
        Assert.True(c.QkNorm);
        Assert.False(c.AttentionBias);
        Assert.False(c.OutputBias);
        Assert.Equal(new RopeConfig { Type = RopeType.Yarn, Theta = 1e6, Factor = 4, OriginalMaxPositionEmbeddings = 128 }, c.Rope);
        Assert.Equal(512, c.MaxPositionEmbeddings);
    }

    [Fact]
    public void RopeParametersForm()
    {
        var c = ConfigJson.Parse(("rope_theta", null),
            ("rope_parameters", """{"rope_type": "yarn", "rope_theta": 1000000.0, "factor": 4.0, "original_max_position_embeddings": 32}"""));
        Assert.Equal(new RopeConfig { Type = RopeType.Yarn, Theta = 1e6, Factor = 4, OriginalMaxPositionEmbeddings = 32 }, c.Rope);
    }

    [Fact]
    public void RopeParametersTakeTopLevelThetaWhereTheyHaveNone()
    {
        var c = ConfigJson.Parse(("rope_theta", "500000.0"), ("rope_parameters", """{"rope_type": "default"}"""));
        Assert.Equal(new RopeConfig { Theta = 500000 }, c.Rope);
    }

    [Fact]
    public void SetRopeScalingWinsOverRopeParameters()
    {
        var c = ConfigJson.Parse(("rope_scaling", """{"rope_type": "linear", "factor": 2.0}"""),
            ("rope_parameters", """{"rope_type": "dynamic", "factor": 3.0}"""));
        Assert.Equal((RopeType.Linear, 2.0), (c.Rope.Type, c.Rope.Factor));
    }

    [Fact]
    public void LegacyTypeKey()
    {
        var c = ConfigJson.Parse(("rope_scaling", """{"type": "linear", "factor": 8.0}"""));
        Assert.Equal(new RopeConfig { Type = RopeType.Linear, Theta = 10000, Factor = 8 }, c.Rope);
    }

    [Fact]
    public void RopeTypeWinsOverLegacyType()
    {
        var c = ConfigJson.Parse(("rope_scaling", """{"type": "linear", "rope_type": "dynamic", "factor": 2}"""));
        Assert.Equal(RopeType.Dynamic, c.Rope.Type);
    }

    [Fact]
    public void NullRopeScalingIsPlainRope()
    {
        Assert.Equal(new RopeConfig(), ConfigJson.Parse(("rope_scaling", "null"), ("rope_theta", null)).Rope);
    }

    [Theory]
    [InlineData("torch_dtype", "bfloat16", DType.BF16)]
    [InlineData("torch_dtype", "float16", DType.F16)]
    [InlineData("dtype", "bfloat16", DType.BF16)]
    [InlineData("dtype", "float32", DType.F32)]
    public void DTypeUnderEitherKey(string key, string name, DType expected)
    {
        Assert.Equal(expected, ConfigJson.Parse(("torch_dtype", null), (key, $"\"{name}\"")).TorchDtype);
    }

    [Fact]
    public void DTypeWinsOverTorchDtypeAndAbsentIsFloat32()
    {
        Assert.Equal(DType.F16, ConfigJson.Parse(("torch_dtype", "\"bfloat16\""), ("dtype", "\"float16\"")).TorchDtype);
        Assert.Equal(DType.F32, ConfigJson.Parse(("torch_dtype", null)).TorchDtype);
    }

    [Fact]
    public void TiedEmbeddings()
    {
        Assert.True(ConfigJson.Parse(("tie_word_embeddings", "true")).TieWordEmbeddings);
        Assert.False(ConfigJson.Parse(("tie_word_embeddings", null)).TieWordEmbeddings);
    }

    [Fact]
    public void LlamaAttentionBiasCoversAllFourProjections()
    {
        var c = ConfigJson.Parse(("attention_bias", "true"));
        Assert.True(c.AttentionBias);
        Assert.True(c.OutputBias);
    }

    [Fact]
    public void Qwen2BiasDoesNotNeedTheKey()
    {
        var c = ConfigJson.Parse(("architectures", """["Qwen2ForCausalLM"]"""), ("model_type", "\"qwen2\""));
        Assert.Equal(ModelFamily.Qwen2, c.Family);
        Assert.True(c.AttentionBias);
        Assert.False(c.OutputBias);
    }

    [Fact]
    public void Qwen3WithHeadDimAndBias()
    {
        var c = ConfigJson.Parse(("architectures", """["Qwen3ForCausalLM"]"""), ("head_dim", "128"), ("attention_bias", "true"));
        Assert.Equal((ModelFamily.Qwen3, 128, true, true, true), (c.Family, c.HeadDim, c.QkNorm, c.AttentionBias, c.OutputBias));
    }

    [Fact]
    public void Mistral()
    {
        var c = ConfigJson.Parse(("architectures", """["MistralForCausalLM"]"""), ("model_type", "\"mistral\""),
            ("sliding_window", "4096"), ("attention_bias", "true"));
        Assert.Equal(("MistralForCausalLM", ModelFamily.Mistral), (c.Architecture, c.Family));
        Assert.Equal(4096, c.SlidingWindow);
        Assert.False(c.AttentionBias); // Mistral's projections have no bias whatever the key says
        Assert.Null(ConfigJson.Parse(("architectures", """["MistralForCausalLM"]"""), ("sliding_window", "null")).SlidingWindow);
    }

    [Fact]
    public void QwenSlidingWindowOnlyWhenTurnedOn()
    {
        (string, string?) qwen2 = ("architectures", """["Qwen2ForCausalLM"]""");
        Assert.Null(ConfigJson.Parse(qwen2, ("sliding_window", "4096"), ("use_sliding_window", "false")).SlidingWindow);
        Assert.Equal(4096, ConfigJson.Parse(qwen2, ("sliding_window", "4096"), ("use_sliding_window", "true")).SlidingWindow);
    }

    [Theory]
    [InlineData("llama", "LlamaForCausalLM")]
    [InlineData("qwen3", "Qwen3ForCausalLM")]
    public void ModelTypeWhereArchitecturesIsNull(string modelType, string architecture)
    {
        var c = ConfigJson.Parse(("architectures", "null"), ("model_type", $"\"{modelType}\""));
        Assert.Equal(architecture, c.Architecture);
    }

    [Fact]
    public void FirstSupportedArchitectureIsTaken()
    {
        Assert.Equal(ModelFamily.Qwen2, ConfigJson.Parse(("architectures", """["SomethingElse", "Qwen2ForCausalLM"]""")).Family);
    }

    [Fact]
    public void TokenIds()
    {
        var c = ConfigJson.Parse(("bos_token_id", "1"), ("eos_token_id", "[2, 7]"), ("pad_token_id", "null"));
        Assert.Equal((1, (int?)null), (c.BosTokenId, c.PadTokenId));
        Assert.Equal([2, 7], c.EosTokenIds);
        Assert.Equal([2], ConfigJson.Parse(("eos_token_id", "2")).EosTokenIds);
        Assert.Empty(ConfigJson.Parse().EosTokenIds);
    }

    [Fact]
    public void TransformersDefaults()
    {
        var c = ConfigJson.Parse(("num_key_value_heads", null), ("rms_norm_eps", null), ("rope_theta", null), ("tie_word_embeddings", null));
        Assert.Equal((4, 16, 1e-6, 10000.0, false, "silu"), (c.NumKvHeads, c.HeadDim, c.RmsNormEps, c.Rope.Theta, c.TieWordEmbeddings, c.HiddenAct));
    }

    [Fact]
    public void IntegralFloatsAreIntegers()
    {
        Assert.Equal(64, ConfigJson.Parse(("hidden_size", "64.0")).HiddenSize);
    }

    [Fact]
    public void OriginalLengthDefaultsToMaxPositionsAndTopLevelWins()
    {
        Assert.Equal(128, ConfigJson.Parse(("rope_scaling", """{"rope_type": "yarn", "factor": 2.0}""")).Rope.OriginalMaxPositionEmbeddings);
        var phi3Style = ConfigJson.Parse(("original_max_position_embeddings", "32"), ("head_dim", "4"),
            ("rope_scaling", """{"type": "longrope", "short_factor": [1, 1], "long_factor": [2, 3], "original_max_position_embeddings": 64}"""));
        Assert.Equal(32, phi3Style.Rope.OriginalMaxPositionEmbeddings);
        Assert.Equal([2.0, 3.0], phi3Style.Rope.LongFactor!);
        Assert.Null(ConfigJson.Parse(("rope_scaling", """{"type": "linear", "factor": 2.0}""")).Rope.OriginalMaxPositionEmbeddings);
    }

    [Fact]
    public void LoadFromFileOrModelFolder()
    {
        string dir = Directory.CreateTempSubdirectory("rawlora-config-").FullName;
        try
        {
            string path = Path.Combine(dir, "config.json");
            File.WriteAllText(path, RopeFixture.ConfigText("peer_qwen2_tiny"));
            Assert.Equal(ModelFamily.Qwen2, ModelConfig.Load(path).Family);
            var fromFolder = ModelConfig.Load(dir);
            Assert.Equal(path, fromFolder.SourceName);
            Assert.Equal(ModelFamily.Qwen2, fromFolder.Family);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
