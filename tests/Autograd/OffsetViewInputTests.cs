using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Ops that flatten a contiguous input into a handle of another shape keep the input's offset: a
/// narrowed view (rows past the first of a [1, T, d] tensor) reads its own rows, not the storage's first.
/// </summary>
public class OffsetViewInputTests
{
    private static Tensor Rows(Tensor t, int start, int length) => t.Narrow(0, start, length);

    [Fact]
    public void CrossEntropyReadsTheRowsOfANarrowedView()
    {
        using var scope = new DisposeScope();
        var hidden = Tensor.Randn([10, 8], new Generator(1));
        var weight = Tensor.Randn([12, 8], new Generator(2));
        var targets = Tensor.FromArray(new long[] { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3 });

        float viewed = Rows(hidden, 4, 5).LinearCrossEntropy(weight, Rows(targets, 4, 5)).Item();
        float copied = Rows(hidden, 4, 5).Contiguous().LinearCrossEntropy(weight, Rows(targets, 4, 5).Contiguous()).Item();
        float logits = Rows(hidden, 4, 5).Linear(weight).CrossEntropy(Rows(targets, 4, 5)).Item();

        Assert.Equal(copied, viewed, 1e-6f);
        Assert.Equal(copied, logits, 1e-5f);
    }

    [Fact]
    public void EmbeddingAndRopeReadTheRowsOfANarrowedView()
    {
        using var scope = new DisposeScope();
        var weight = Tensor.Randn([12, 8], new Generator(3));
        var ids = Tensor.FromArray(new long[] { 3, 1, 4, 1, 5, 9 });
        Assert.Equal(weight.Embedding(Rows(ids, 2, 3).Contiguous()).ToFloatArray(), weight.Embedding(Rows(ids, 2, 3)).ToFloatArray());

        var x = Tensor.Randn([6, 2, 8], new Generator(4));
        var cos = Tensor.Randn([8, 4], new Generator(5));
        var sin = Tensor.Randn([8, 4], new Generator(6));
        var positions = Tensor.FromArray(new long[] { 0, 1, 2, 3, 4, 5 });
        Assert.Equal(Rows(x, 3, 3).Contiguous().Rope(cos, sin, Rows(positions, 3, 3).Contiguous()).ToFloatArray(),
                     Rows(x, 3, 3).Rope(cos, sin, Rows(positions, 3, 3)).ToFloatArray());
    }
}
