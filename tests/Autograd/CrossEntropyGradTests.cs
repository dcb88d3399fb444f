using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Mean cross-entropy over the targets that are not ignored (ignore_index = −100).</summary>
public class CrossEntropyGradTests
{
    [Fact]
    public void AllTargetsCounted()
    {
        using var targets = Input.Ids(2, 0, 4, 1);
        GradCheck.Assert(x => x[0].CrossEntropy(targets), [Input.Randn(1, 4, 5)]);
    }

    [Fact]
    public void IgnoredRowsGetNoGradient()
    {
        using var targets = Input.Ids(2, -100, 0, 4, -100, 1);
        var logits = Input.Randn(2, 6, 5);
        GradCheck.Assert(x => x[0].CrossEntropy(targets), [logits]);
        logits.Grad = null;
        logits.CrossEntropy(targets).Backward();
        var g = logits.Grad!.ToFloatArray();
        foreach (int row in new[] { 1, 4 })
            for (int c = 0; c < 5; c++)
                Assert.Equal(0f, g[row * 5 + c]);
        // Each counted row's gradient sums to zero (softmax minus one-hot) and is divided by 4 rows.
        for (int row = 0; row < 6; row++)
            Assert.Equal(0f, g.Skip(row * 5).Take(5).Sum(), 6);
    }

    [Fact]
    public void CustomIgnoreIndexAndInt32Targets()
    {
        using var targets = Tensor.FromArray([3, 7, 0], [3]);
        GradCheck.Assert(x => x[0].CrossEntropy(targets, ignoreIndex: 7), [Input.Randn(3, 3, 4)]);
    }

    [Fact]
    public void MatchesLogSoftmaxDefinition()
    {
        using var targets = Input.Ids(1, -100, 2);
        using var logits = Tensor.FromArray([1f, 2f, 3f, 0f, 0f, 0f, -1f, 5f, 0.5f], [3, 3]);
        float loss = logits.CrossEntropy(targets).Item();
        double Lse(params double[] v) => Math.Log(v.Sum(Math.Exp));
        double expected = ((Lse(1, 2, 3) - 2) + (Lse(-1, 5, 0.5) - 0.5)) / 2;
        Assert.Equal(expected, loss, 5);
    }

    [Fact]
    public void EveryTargetIgnoredIsNaN()
    {
        using var targets = Input.Ids(-100, -100);
        using var logits = Tensor.Randn([2, 3], new Generator(4));
        Assert.True(float.IsNaN(logits.CrossEntropy(targets).Item()));
    }

    [Fact]
    public void LargeLogits() => GradCheck.Assert(x => (x[0] * 30f).CrossEntropy(Input.Ids(1, 0, 2)), [Input.Randn(5, 3, 3)], eps: 1e-4);

    [Fact]
    public void TransposedLogits()
    {
        using var targets = Input.Ids(0, 5, 2, -100);
        GradCheck.Assert(x => x[0].Transpose(0, 1).CrossEntropy(targets), [Input.Randn(6, 6, 4)]);
    }

    [Fact]
    public void StridedAndExpandedLogits()
    {
        using var targets = Input.Ids(3, 1, 0);
        GradCheck.Assert(x => Input.Strided(x[0]).CrossEntropy(targets) + x[1].Expand(3, 4).CrossEntropy(targets), [Input.Randn(7, 3, 4), Input.Randn(8, 1, 4)]);
    }

    [Fact]
    public void NonContiguousTargets()
    {
        using var pairs = Tensor.FromArray(new long[] { 2, 9, -100, 9, 1, 9 }, [3, 2]);
        using var targets = pairs.Narrow(1, 0, 1).Squeeze(1);
        GradCheck.Assert(x => x[0].CrossEntropy(targets), [Input.Randn(9, 3, 4)]);
    }
}
