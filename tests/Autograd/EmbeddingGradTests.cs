using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Row lookup; the table's gradient scatter-adds, so repeated ids sum.</summary>
public class EmbeddingGradTests
{
    [Fact]
    public void RepeatedIds()
    {
        using var ids = Input.Ids(3, 1, 3, 9, 0, 3, 1);
        GradCheck.Assert(x => x[0].Embedding(ids), [Input.Randn(1, 10, 4)]);
    }

    [Fact]
    public void TwoDIdsInt32()
    {
        using var ids = Tensor.FromArray([2, 2, 5, 0, 7, 2], [2, 3]);
        var w = Input.Randn(2, 8, 3);
        var y = w.Embedding(ids);
        Assert.Equal([2, 3, 3], y.ShapeArray);
        GradCheck.Assert(x => x[0].Embedding(ids), [w]);
    }

    [Fact]
    public void GradientCountsEachUse()
    {
        using var ids = Input.Ids(4, 1, 4, 4);
        var w = Input.Randn(3, 5, 2);
        w.Embedding(ids).Sum().Backward();
        Assert.Equal([0f, 0f, 1f, 1f, 0f, 0f, 0f, 0f, 3f, 3f], w.Grad!.ToFloatArray());
    }

    [Fact]
    public void RowsAreTheTable()
    {
        using var ids = Input.Ids(2, 0);
        using var w = Tensor.FromArray([0f, 1f, 10f, 11f, 20f, 21f], [3, 2]);
        Assert.Equal([20f, 21f, 0f, 1f], w.Embedding(ids).ToFloatArray());
    }

    [Fact]
    public void Bf16TableForward()
    {
        using var w = Tensor.Randn([6, 4], new Generator(4));
        using var w16 = w.To(DType.BF16);
        using var ids = Input.Ids(5, 0, 5);
        Approx.Close(w16.To(DType.F32).Embedding(ids).ToFloatArray(), w16.Embedding(ids), 0);
    }

    [Fact]
    public void TransposedTable()
    {
        // A tied table stored [dim, vocab] and viewed as [vocab, dim].
        using var ids = Input.Ids(0, 6, 6, 2);
        GradCheck.Assert(x => x[0].Transpose(0, 1).Embedding(ids), [Input.Randn(5, 3, 7)]);
    }

    [Fact]
    public void StridedAndNarrowedTables()
    {
        using var ids = Input.Ids(1, 4, 1);
        GradCheck.Assert(x => Input.Strided(x[0]).Embedding(ids) + x[1].Narrow(0, 2, 5).Narrow(1, 1, 3).Embedding(ids), [Input.Randn(6, 5, 3), Input.Randn(7, 8, 5)]);
    }

    [Fact]
    public void NonContiguousIds()
    {
        using var idPairs = Tensor.FromArray(new long[] { 1, 0, 3, 1, 3, 2 }, [3, 2]);
        using var ids = idPairs.Transpose(0, 1);
        GradCheck.Assert(x => x[0].Embedding(ids), [Input.Randn(8, 4, 3)]);
        using var contiguousIds = Tensor.FromArray(new long[] { 1, 3, 3, 0, 1, 2 }, [2, 3]);
        using var w = Tensor.Randn([4, 3], new Generator(9));
        Assert.Equal(w.Embedding(contiguousIds).ToFloatArray(), w.Embedding(ids).ToFloatArray());
    }
}
