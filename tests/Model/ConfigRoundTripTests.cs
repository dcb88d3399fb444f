using System.Text.Json.Nodes;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>ToJson and WithRope: unchanged keys survive, RoPE is written in the file's own spelling.</summary>
public class ConfigRoundTripTests
{
    private static JsonObject Json(ModelConfig c) => JsonNode.Parse(c.ToJson())!.AsObject();

    private static JsonObject Rope(ModelConfig c, string key) => Json(c)[key]!.AsObject();

    [Theory]
    [MemberData(nameof(RopeFixture.AllCases), MemberType = typeof(RopeFixture))]
    public void UnchangedConfigWritesTheSameJson(string name)
    {
        var c = RopeFixture.Config(name);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(RopeFixture.ConfigText(name)), Json(c)));
        var again = ModelConfig.Parse(c.ToJson(), "again.json");
        Assert.Equal(c.ToJson(), again.ToJson());
        Assert.Equal(Summary(c), Summary(again));
    }

    [Theory]
    [MemberData(nameof(RopeFixture.AllCases), MemberType = typeof(RopeFixture))]
    public void WithTheSameRopeReadsBackTheSameConfig(string name)
    {
        var c = RopeFixture.Config(name);
        var same = c.WithRope(c.Rope, c.MaxPositionEmbeddings);
        Assert.Equal(Summary(c), Summary(same));
        Assert.Equal(c.Rope.ShortFactor, same.Rope.ShortFactor);
        Assert.Equal(c.Rope.LongFactor, same.Rope.LongFactor);
        var (inv, factor) = RopeScaling.Compute(c.Rope, c.HeadDim, c.MaxPositionEmbeddings, 100_000);
        var (sameInv, sameFactor) = RopeScaling.Compute(same.Rope, same.HeadDim, same.MaxPositionEmbeddings, 100_000);
        Assert.Equal(inv, sameInv);
        Assert.Equal(factor, sameFactor);
    }

    /// <summary>Every property, with the longrope arrays left to the callers (records compare arrays by reference).</summary>
    private static string Summary(ModelConfig c) => string.Join("|", c.Architecture, c.Family, c.HiddenSize, c.IntermediateSize, c.NumLayers,
        c.NumHeads, c.NumKvHeads, c.HeadDim, c.VocabSize, c.MaxPositionEmbeddings, c.RmsNormEps, c.TieWordEmbeddings, c.AttentionBias,
        c.OutputBias, c.QkNorm, c.TorchDtype, c.BosTokenId, string.Join(",", c.EosTokenIds), c.PadTokenId, c.SlidingWindow, c.HiddenAct,
        c.Rope with { ShortFactor = null, LongFactor = null });

    [Fact]
    public void LongLoraLinearOnAFileWithoutRopeScaling()
    {
        var c = RopeFixture.Config("peer_llama2_7b");
        var longer = c.WithRope(c.Rope with { Type = RopeType.Linear, Factor = 8 }, 32768);
        Assert.Equal((RopeType.Linear, 8.0, 32768), (longer.Rope.Type, longer.Rope.Factor, longer.MaxPositionEmbeddings));
        var json = Json(longer);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"rope_type": "linear", "factor": 8.0}"""), json["rope_scaling"]));
        Assert.Equal(10000.0, (double)json["rope_theta"]!);
        Assert.Equal(32768, (int)json["max_position_embeddings"]!);
        Assert.Contains("\"factor\": 8.0", longer.ToJson()); // Python's float spelling
        Assert.Equal(4096, c.MaxPositionEmbeddings); // the original is unchanged
        Assert.Equal(RopeType.Default, c.Rope.Type);
    }

    [Fact]
    public void UnknownKeysSurvive()
    {
        var c = ConfigJson.Parse(("quantization_config", """{"bits": 4, "groups": [1, 2]}"""), ("transformers_version", "\"4.57.1\""),
            ("rope_scaling", """{"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 64, "custom": 1}"""));
        var json = Json(c.WithRope(c.Rope with { Factor = 4 }, 256));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"bits": 4, "groups": [1, 2]}"""), json["quantization_config"]));
        Assert.Equal("4.57.1", (string)json["transformers_version"]!);
        Assert.Equal([.. JsonNode.Parse(ConfigJson.With())!.AsObject().Select(p => p.Key), "quantization_config", "transformers_version", "rope_scaling"],
            json.Select(p => p.Key)); // in the file's order
    }

    [Fact]
    public void LegacyTypeKeyIsWrittenBesideRopeType()
    {
        var c = ConfigJson.Parse(("rope_scaling", """{"type": "linear", "factor": 2.0}"""));
        var rope = Rope(c.WithRope(c.Rope with { Type = RopeType.Dynamic, Factor = 3 }, 128), "rope_scaling");
        Assert.Equal(("dynamic", "dynamic", 3.0), ((string)rope["type"]!, (string)rope["rope_type"]!, (double)rope["factor"]!));
    }

    [Fact]
    public void RopeParametersStayRopeParameters()
    {
        var c = ConfigJson.Parse(("rope_theta", null), ("rope_parameters", """{"rope_type": "default", "rope_theta": 500000.0}"""));
        var yarn = c.WithRope(c.Rope with { Type = RopeType.Yarn, Factor = 4 }, 512);
        var json = Json(yarn);
        Assert.False(json.ContainsKey("rope_scaling"));
        Assert.False(json.ContainsKey("rope_theta"));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"rope_type": "yarn", "rope_theta": 500000.0, "factor": 4.0, "original_max_position_embeddings": 128}
            """), json["rope_parameters"]));
        Assert.Equal(new RopeConfig { Type = RopeType.Yarn, Theta = 500000, Factor = 4, OriginalMaxPositionEmbeddings = 128 }, yarn.Rope);
    }

    [Fact]
    public void TopLevelThetaIsKeptInStep()
    {
        var c = ConfigJson.Parse(("rope_parameters", """{"rope_type": "default", "rope_theta": 10000.0}"""));
        var json = Json(c.WithRope(c.Rope with { Theta = 20000 }, 128));
        Assert.Equal((20000.0, 20000.0), ((double)json["rope_theta"]!, (double)json["rope_parameters"]!["rope_theta"]!));
    }

    [Fact]
    public void BackToPlainRopeNullsRopeScaling()
    {
        var c = ConfigJson.Parse(("rope_scaling", """{"rope_type": "linear", "factor": 2.0}"""));
        var plain = c.WithRope(new RopeConfig { Theta = 10000 }, 128);
        Assert.Equal(RopeType.Default, plain.Rope.Type);
        Assert.True(Json(plain).ContainsKey("rope_scaling"));
        Assert.Null(Json(plain)["rope_scaling"]);
        Assert.False(Json(ConfigJson.Parse().WithRope(new RopeConfig { Theta = 10000 }, 128)).ContainsKey("rope_scaling"));
    }

    [Fact]
    public void OnlyTheKeysOfTheKindAreWritten()
    {
        var yarn = ConfigJson.Parse(("rope_scaling", """
            {"rope_type": "yarn", "factor": 4.0, "beta_fast": 16, "mscale": 1.0, "original_max_position_embeddings": 64}
            """));
        var rope = Rope(yarn.WithRope(yarn.Rope with { Type = RopeType.Linear, Factor = 2 }, 128), "rope_scaling");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"rope_type": "linear", "factor": 2.0}"""), rope));
    }

    [Fact]
    public void ThePretrainingLengthStaysWhenMaxPositionsGrow()
    {
        var c = RopeFixture.Config("peer_llama2_7b");
        var yarn = c.WithRope(new RopeConfig { Type = RopeType.Yarn, Theta = 10000, Factor = 8 }, 32768);
        Assert.Equal((4096, 32768), (yarn.Rope.OriginalMaxPositionEmbeddings, yarn.MaxPositionEmbeddings));
        var llama3 = ConfigJson.Parse(("rope_scaling", """
            {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
            """));
        Assert.Equal(64, llama3.WithRope(llama3.Rope with { OriginalMaxPositionEmbeddings = null }, 1024).Rope.OriginalMaxPositionEmbeddings);
    }

    [Fact]
    public void TopLevelOriginalLengthIsUpdatedToo()
    {
        var c = ConfigJson.Parse(("original_max_position_embeddings", "32"), ("head_dim", "4"),
            ("rope_scaling", """{"type": "longrope", "short_factor": [1, 1], "long_factor": [2, 3]}"""));
        var changed = c.WithRope(c.Rope with { OriginalMaxPositionEmbeddings = 48 }, 512);
        Assert.Equal(48, changed.Rope.OriginalMaxPositionEmbeddings);
        Assert.Equal(48, (int)Json(changed)["original_max_position_embeddings"]!);
    }
}
