using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The LM head fused with the loss, tile by tile, against the plain logits path.</summary>
public class LinearCrossEntropyTests
{
    [Theory]
    [InlineData(7, 5)]
    [InlineData(50, 13)]
    [InlineData(3, 1)]
    public void MatchesLinearThenCrossEntropyInValueAndGradients(int vocabChunk, int tokenChunk)
    {
        using var scope = new DisposeScope();
        var h = Input.Randn(1, 2, 7, 6);
        var w = Input.Randn(2, 50, 6);
        var targets = Tensor.FromArray(Enumerable.Range(0, 14).Select(i => i % 5 == 4 ? -100L : i * 7 % 50).ToArray(), [2, 7]);

        var fused = h.LinearCrossEntropy(w, targets, vocabChunk: vocabChunk, tokenChunk: tokenChunk);
        fused.Backward();
        var (dh, dw) = (h.Grad!.ToFloatArray(), w.Grad!.ToFloatArray());
        h.Grad = null;
        w.Grad = null;
        var plain = h.Linear(w).Reshape(14, 50).CrossEntropy(targets.Reshape(14));
        plain.Backward();

        Assert.Equal(plain.Item(), fused.Item(), 5);
        AssertClose(h.Grad!.ToFloatArray(), dh);
        AssertClose(w.Grad!.ToFloatArray(), dw);
    }

    [Fact]
    public void FiniteDifferences()
    {
        var targets = Tensor.FromArray(new long[] { 3, 0, -100, 8, 8 });
        GradCheck.Assert(x => x[0].LinearCrossEntropy(x[1], targets, vocabChunk: 4, tokenChunk: 2), [Input.Randn(3, 5, 4), Input.Randn(4, 9, 4)]);
    }

    [Fact]
    public void AFrozenHeadGetsNoGradientAndABf16HeadWorks()
    {
        using var scope = new DisposeScope();
        var h = Input.Randn(5, 6, 8);
        using var w32 = Tensor.Randn([20, 8], new Generator(6));
        var w16 = w32.To(DType.BF16);
        var targets = Tensor.FromArray(new long[] { 1, 19, 0, 7, -100, 3 });
        var loss = h.LinearCrossEntropy(w16, targets, vocabChunk: 6, tokenChunk: 4);
        loss.Backward();
        Assert.Null(w16.Grad);
        Assert.NotNull(h.Grad);
        using var reference = h.Linear(w16.To(DType.F32)).CrossEntropy(targets);
        Assert.Equal(reference.Item(), loss.Item(), 4);
    }

    [Fact]
    public void EveryTargetIgnoredGivesNaNLikePyTorch()
    {
        using var scope = new DisposeScope();
        var loss = Input.Randn(7, 2, 4).LinearCrossEntropy(Input.Randn(8, 5, 4), Tensor.FromArray(new long[] { -100, -100 }));
        Assert.True(float.IsNaN(loss.Item()));
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        float scale = expected.Max(MathF.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= 1e-5f * scale + 1e-4f * MathF.Abs(expected[i]),
                $"element {i}: {actual[i]} vs {expected[i]}");
    }
}

[Collection(SerialCollection.Name)]
public class LinearCrossEntropyMemoryTests
{
    [Fact]
    public void NeverHoldsTheFullLogits()
    {
        const int n = 256, v = 20000, d = 16;
        using var scope = new DisposeScope();
        var h = Tensor.Randn([n, d], new Generator(1), requiresGrad: true);
        var w = Tensor.Randn([v, d], new Generator(2), requiresGrad: true);
        var targets = Tensor.FromArray(Enumerable.Range(0, n).Select(i => (long)(i * 37 % v)).ToArray());
        Storage.ResetPeak();
        long before = Storage.LiveBytes;
        h.LinearCrossEntropy(w, targets, vocabChunk: 1024, tokenChunk: 64).Backward();
        long extra = Storage.PeakBytes - before;
        long logitsBytes = (long)n * v * sizeof(float);
        long gradBytes = (long)(n + v) * d * sizeof(float);
        // Tiles of 64 × 1024 floats, per-row vectors and the gradients: far below the 20 MB of logits.
        Assert.True(extra < gradBytes + 2 * 64 * 1024 * sizeof(float) + 64 * n, $"peak extra {extra} bytes (full logits would be {logitsBytes})");
    }
}
