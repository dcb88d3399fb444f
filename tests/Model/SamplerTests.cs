using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

public class SamplerTests
{
    private static readonly float[] Logits = [1f, 3f, 2f, 3f, -1f];

    [Fact]
    public void GreedyTakesTheFirstMaximum() => Assert.Equal(1, Sampler.Pick(Logits, new SamplingOptions(), 0));

    [Fact]
    public void TopKOneIsGreedyAtAnyTemperature()
    {
        var o = new SamplingOptions { Temperature = 5f, TopK = 1, Seed = 3 };
        for (int draw = 0; draw < 50; draw++)
            Assert.Equal(1, Sampler.Pick(Logits, o, draw));
    }

    [Fact]
    public void TopKAndTopPKeepOnlyTheirTokens()
    {
        var topK = new SamplingOptions { Temperature = 1f, TopK = 3, Seed = 7 };
        var seenK = Enumerable.Range(0, 400).Select(d => Sampler.Pick(Logits, topK, d)).ToHashSet();
        Assert.Equal([1, 2, 3], seenK.Order());
        // p(1) = p(3) ≈ 0.42 each: top-p 0.5 keeps those two only.
        var topP = new SamplingOptions { Temperature = 1f, TopP = 0.5f, Seed = 7 };
        var seenP = Enumerable.Range(0, 400).Select(d => Sampler.Pick(Logits, topP, d)).ToHashSet();
        Assert.Equal([1, 3], seenP.Order());
    }

    [Fact]
    public void DrawsFollowTheSoftmaxAndRepeatForASeed()
    {
        var o = new SamplingOptions { Temperature = 1f, Seed = 11 };
        var picks = Enumerable.Range(0, 20000).Select(d => Sampler.Pick(Logits, o, d)).ToArray();
        Assert.Equal(picks, Enumerable.Range(0, 20000).Select(d => Sampler.Pick(Logits, o, d)));
        double z = Logits.Sum(l => Math.Exp(l));
        for (int t = 0; t < Logits.Length; t++)
            Assert.InRange(picks.Count(p => p == t) / 20000.0, Math.Exp(Logits[t]) / z - 0.015, Math.Exp(Logits[t]) / z + 0.015);
        Assert.NotEqual(picks, Enumerable.Range(0, 20000).Select(d => Sampler.Pick(Logits, o with { Seed = 12 }, d)));
    }

    [Fact]
    public void GenerationStopsAtAStopToken()
    {
        using var model = CausalLM.Load(CausalLMTests.Dir("qwen2-tiny"));
        var free = TextGeneration.Generate(model, [1, 2, 3], new SamplingOptions { MaxNewTokens = 6 });
        var stopped = TextGeneration.Generate(model, [1, 2, 3], new SamplingOptions { MaxNewTokens = 6, StopTokens = [free[2]] });
        Assert.Equal(free.Take(Array.IndexOf(free, free[2]) + 1), stopped);
    }

    [Fact]
    public void BadOptionsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SamplingOptions { TopP = 0 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new SamplingOptions { Temperature = -1 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new SamplingOptions { TopK = -2 }.Validate());
    }
}
