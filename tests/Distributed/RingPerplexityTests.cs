using RawLongLoRA.Training;
using RawLongLoRA.Training.Checks;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// rawlora eval ppl under mpirun: sliding windows shared among the ranks by Ring attention score the same NLL as one
/// process reading each window whole, windows too short to share included.
/// </summary>
public class RingPerplexityTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Windows_shared_by_the_ring_score_what_one_process_scores(int ranks)
    {
        var random = new Random(3);
        int[] tokens = [.. Enumerable.Range(0, 44).Select(_ => random.Next(32))];
        // 44 tokens in windows of 24 every 8, then a 5-token document: shorter than the 2 blocks per rank of 4 ranks.
        var expected = new[] { Whole(tokens), Whole(tokens[..5]) };
        var got = new (double, long)[ranks][];
        ThreadGroup.Run(ranks, group =>
        {
            using var tiny = new TinyTrainingStep(Device.Cpu);
            tiny.Model.Eval();
            got[group.Rank] = [Perplexity.Score(tiny.Model, tokens, 24, 8, group), Perplexity.Score(tiny.Model, tokens[..5], 24, 8, group)];
        });
        foreach (var rank in got)
            for (int d = 0; d < expected.Length; d++)
            {
                Assert.Equal(expected[d].Scored, rank[d].Item2);
                Assert.InRange(Math.Abs(rank[d].Item1 - expected[d].NllSum) / expected[d].NllSum, 0, 1e-5);
            }
    }

    private static (double NllSum, long Scored) Whole(int[] tokens)
    {
        using var tiny = new TinyTrainingStep(Device.Cpu);
        tiny.Model.Eval();
        return Perplexity.Score(tiny.Model, tokens, 24, 8);
    }
}
