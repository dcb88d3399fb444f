using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>inv_freq and the attention factor of every RoPE kind against transformers' formulas run in PyTorch.</summary>
public class RopeScalingTests
{
    [Theory]
    [MemberData(nameof(RopeFixture.AllCases), MemberType = typeof(RopeFixture))]
    public void MatchesTransformers(string name)
    {
        var config = RopeFixture.Config(name);
        var (invFreq, attentionFactor) = RopeScaling.Compute(config.Rope, config.HeadDim, config.MaxPositionEmbeddings, RopeFixture.SeqLen(name));
        var expected = RopeFixture.Floats(name + ".inv_freq");
        Assert.Equal(expected.Length, invFreq.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(invFreq[i] - expected[i]) <= 1e-6 * expected[i], $"{name}: inv_freq[{i}] = {invFreq[i]:R}, PyTorch {expected[i]:R}");
        // Every float32 step is torch's; only θ^(2i/d) may round differently (SLEEF's pow is within 1 ulp).
        int differing = invFreq.Where((f, i) => f != expected[i]).Count();
        Assert.True(differing <= 2, $"{name}: {differing} of {expected.Length} frequencies differ from PyTorch's in their last bits");
        float expectedFactor = RopeFixture.Floats(name + ".attention_factor")[0];
        Assert.True(Math.Abs(attentionFactor - expectedFactor) <= 1e-6 * expectedFactor, $"{name}: attention factor {attentionFactor:R}, PyTorch {expectedFactor:R}");
    }

    [Fact]
    public void FixtureCoversEveryKindAndOption()
    {
        var cases = RopeFixture.Cases.Select(n => (Name: n, Rope: RopeFixture.Config(n).Rope, Config: RopeFixture.Config(n), SeqLen: RopeFixture.SeqLen(n))).ToList();
        foreach (var type in Enum.GetValues<RopeType>())
            Assert.Contains(cases, c => c.Rope.Type == type);
        Assert.Contains(cases, c => c.Rope is { Type: RopeType.Yarn, Mscale: not null, MscaleAllDim: not null });
        Assert.Contains(cases, c => c.Rope is { Type: RopeType.Yarn, AttentionFactor: not null });
        Assert.Contains(cases, c => c.Rope is { Type: RopeType.Yarn, Truncate: false });
        // The factor given wins over max_position_embeddings / original: cases where the two disagree, both ways.
        Assert.Contains(cases, c => c.Rope is { Type: RopeType.Yarn, Factor: double f, OriginalMaxPositionEmbeddings: int o } && c.Config.MaxPositionEmbeddings < f * o);
        Assert.Contains(cases, c => c.Rope is { Type: RopeType.Yarn, Factor: double f, OriginalMaxPositionEmbeddings: int o } && c.Config.MaxPositionEmbeddings > f * o);
        Assert.Contains(cases, c => c.Rope.Type == RopeType.Dynamic && c.SeqLen <= c.Config.MaxPositionEmbeddings);
        Assert.Contains(cases, c => c.Rope.Type == RopeType.Dynamic && c.SeqLen > c.Config.MaxPositionEmbeddings);
        Assert.Contains(cases, c => c.Rope.Type == RopeType.LongRope && c.SeqLen <= c.Rope.OriginalMaxPositionEmbeddings);
        Assert.Contains(cases, c => c.Rope.Type == RopeType.LongRope && c.SeqLen > c.Rope.OriginalMaxPositionEmbeddings);
        Assert.Contains(cases, c => c.Rope is { Type: RopeType.Llama3, Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192, Theta: 500000 });
    }

    [Fact]
    public void LinearDividesThePlainFrequencies()
    {
        var plain = RopeScaling.Compute(new RopeConfig { Theta = 10000 }, 128, 4096, 1).InvFreq;
        var (linear, attention) = RopeScaling.Compute(new RopeConfig { Type = RopeType.Linear, Theta = 10000, Factor = 8 }, 128, 4096, 1);
        Assert.Equal(plain.Select(f => f / 8f), linear);
        Assert.Equal(1f, attention);
    }

    [Fact]
    public void DynamicChangesOnlyPastMaxPositions()
    {
        var rope = new RopeConfig { Type = RopeType.Dynamic, Theta = 10000, Factor = 2 };
        var plain = RopeScaling.Compute(rope with { Type = RopeType.Default }, 64, 1024, 1).InvFreq;
        Assert.Equal(plain, RopeScaling.Compute(rope, 64, 1024, 1024).InvFreq);
        var longer = RopeScaling.Compute(rope, 64, 1024, 1025).InvFreq;
        Assert.Equal(plain[0], longer[0]);
        Assert.True(longer[^1] < plain[^1]);
        Assert.True(RopeScaling.Compute(rope, 64, 1024, 4096).InvFreq[^1] < longer[^1]);
    }

    [Fact]
    public void LongRopeSwitchesFactorsPastTheOriginalLength()
    {
        var rope = new RopeConfig
        {
            Type = RopeType.LongRope, Theta = 10000, OriginalMaxPositionEmbeddings = 256,
            ShortFactor = [1, 1, 1, 1], LongFactor = [2, 2, 2, 2],
        };
        var (shortInv, attention) = RopeScaling.Compute(rope, 8, 1024, 256);
        var longInv = RopeScaling.Compute(rope, 8, 1024, 257).InvFreq;
        Assert.Equal(shortInv.Select(f => f / 2f), longInv);
        Assert.Equal((float)Math.Sqrt(1 + Math.Log(4) / Math.Log(256)), attention);
    }

    [Fact]
    public void YarnAttentionFactorRules()
    {
        var yarn = new RopeConfig { Type = RopeType.Yarn, Theta = 10000, Factor = 4, OriginalMaxPositionEmbeddings = 1024 };
        float Factor(RopeConfig r) => RopeScaling.Compute(r, 64, 4096, 1).AttentionFactor;
        Assert.Equal((float)(0.1 * Math.Log(4) + 1), Factor(yarn));
        // mscale alone is ignored; with mscale_all_dim it is the ratio; an explicit factor wins.
        Assert.Equal(Factor(yarn), Factor(yarn with { Mscale = 0.5 }));
        Assert.Equal((float)((0.05 * Math.Log(4) + 1) / (0.1 * Math.Log(4) + 1)), Factor(yarn with { Mscale = 0.5, MscaleAllDim = 1 }));
        Assert.Equal(0.75f, Factor(yarn with { AttentionFactor = 0.75, Mscale = 0.5, MscaleAllDim = 1 }));
        Assert.Equal(1f, Factor(yarn with { Factor = 1 }));
    }

    [Theory]
    [InlineData(RopeType.Linear, "factor")]
    [InlineData(RopeType.Dynamic, "factor")]
    [InlineData(RopeType.Llama3, "factor")]
    [InlineData(RopeType.LongRope, "short_factor")]
    public void MissingParameterIsNamed(RopeType type, string key)
    {
        var e = Assert.Throws<ArgumentException>(() => RopeScaling.Compute(new RopeConfig { Type = type }, 64, 1024, 1));
        Assert.Contains($"'{key}'", e.Message);
        Assert.Contains(type.JsonName(), e.Message);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(2)]
    [InlineData(0)]
    public void HeadDimMustBeEven(int headDim)
    {
        var e = Assert.Throws<ArgumentException>(() => RopeScaling.Compute(new RopeConfig(), headDim, 1024, 1));
        Assert.Contains("head_dim", e.Message);
    }
}
