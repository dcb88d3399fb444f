using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The schedules at their boundaries (start, end of warmup, total) and by name.</summary>
public class LrScheduleTests
{
    [Theory]
    [InlineData("constant", 0, 0.0)]
    [InlineData("constant", 4, 0.8)]
    [InlineData("constant", 5, 1.0)]
    [InlineData("constant", 1000, 1.0)]
    [InlineData("linear", 5, 1.0)]
    [InlineData("linear", 10, 0.0)]
    [InlineData("linear", 11, 0.0)]
    [InlineData("cosine", 5, 1.0)]
    [InlineData("linear", 7, 0.6)]
    [InlineData("cosine", 10, 0.0)]
    public void FactorsAtBoundaries(string name, int step, double factor)
    {
        var s = LrSchedule.Parse(name, 2e-3f, warmupSteps: 5, totalSteps: 10);
        Assert.Equal(factor, s.Factor(step), 12);
        Assert.Equal((float)(2e-3f * factor), s.At(step));
    }

    [Fact]
    public void NoWarmupStartsAtThePeak()
    {
        foreach (var name in LrSchedule.Names)
            Assert.Equal(1e-4f, LrSchedule.Parse(name, 1e-4f, 0, 10).At(0));
    }

    [Fact]
    public void CosineWithMinRatioEndsThere() =>
        Assert.Equal(0.1, new LrSchedule(LrScheduleKind.Cosine, 1f, 2, 12, minLrRatio: 0.1f).Factor(12), 7);

    [Fact]
    public void UnknownNameListsTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => LrSchedule.Parse("polynomial", 1e-3f, 0, 10));
        Assert.Contains("'polynomial'", e.Message);
        Assert.Contains("constant, cosine, linear", e.Message);
        Assert.Equal(LrScheduleKind.Cosine, LrSchedule.Parse("Cosine", 1e-3f, 0, 10).Kind);
    }

    [Fact]
    public void BadArgumentsThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LrSchedule.Parse("linear", -1f, 0, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => LrSchedule.Parse("linear", 1f, -1, 10));
        Assert.Throws<ArgumentException>(() => LrSchedule.Parse("linear", 1f, 0, 10, minLrRatio: 0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => LrSchedule.Parse("constant", 1f, 0, 10).At(-1));
    }
}
