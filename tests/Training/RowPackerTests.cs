using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Packing of hand-made samples into rows: ids, targets, positions and sequence starts, checked by hand.</summary>
public class RowPackerTests
{
    private const long X = TrainingBatch.IgnoreIndex;

    private static PackedDataset Pack(int length, bool onePerRow, params TokenizedSample[] samples) =>
        PackedDataset.Pack(samples, length, padId: 0, onePerRow, new DataStats());

    private static TokenizedSample Doc(params int[] ids) => new(ids, 0);

    private static TrainingBatch All(PackedDataset dataset) => dataset.Batch([.. Enumerable.Range(0, dataset.RowCount)]);

    [Fact]
    public void DocumentsArePackedInOrderAndOneThatDoesNotFitStartsTheNextRow()
    {
        var dataset = Pack(8, false, Doc(1, 2, 3), Doc(4, 5, 6, 7), Doc(8, 9));
        var batch = All(dataset);

        Assert.Equal((2, 8), (batch.Rows, batch.Length));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 0, /**/ 8, 9, 0, 0, 0, 0, 0, 0], batch.Ids);
        Assert.Equal([2, 3, X, 5, 6, 7, X, X, /**/ 9, X, X, X, X, X, X, X], batch.Targets);
        Assert.Equal([0, 1, 2, 0, 1, 2, 3, 0, /**/ 0, 1, 0, 1, 2, 3, 4, 5], batch.Positions);
        Assert.Equal([0, 3, 7, 8, 10], batch.SequenceStarts);
        Assert.Equal(6, batch.CountedTargets);
        var stats = dataset.Stats;
        Assert.Equal((3, 2, 9L, 7L, 0), (stats.Samples, stats.Rows, stats.Tokens, stats.PaddingTokens, stats.SplitDocuments));
    }

    [Fact]
    public void ARowThatIsFullHasNoPadding()
    {
        var batch = All(Pack(4, false, Doc(1, 2), Doc(3, 4)));

        Assert.Equal([1, 2, 3, 4], batch.Ids);
        Assert.Equal([2, X, 4, X], batch.Targets);
        Assert.Equal([0, 1, 0, 1], batch.Positions);
        Assert.Equal([0, 2], batch.SequenceStarts);
    }

    [Fact]
    public void ADocumentLongerThanARowIsCutIntoPiecesThatStartFromPositionZero()
    {
        var dataset = Pack(4, false, Doc(1, 2), Doc(10, 11, 12, 13, 14, 15, 16, 17, 18, 19), Doc(20));
        var batch = All(dataset);

        Assert.Equal([1, 2, 0, 0, /**/ 10, 11, 12, 13, /**/ 14, 15, 16, 17, /**/ 18, 19, 20, 0], batch.Ids);
        Assert.Equal([2, X, X, X, /**/ 11, 12, 13, X, /**/ 15, 16, 17, X, /**/ 19, X, X, X], batch.Targets);
        Assert.Equal([0, 1, 0, 1, /**/ 0, 1, 2, 3, /**/ 0, 1, 2, 3, /**/ 0, 1, 0, 0], batch.Positions);
        Assert.Equal([0, 2, 4, 8, 12, 14, 15], batch.SequenceStarts);
        Assert.Equal((1, 4, 13L, 3L), (dataset.Stats.SplitDocuments, dataset.Stats.Rows, dataset.Stats.Tokens, dataset.Stats.PaddingTokens));
    }

    [Fact]
    public void NoTargetPredictsAPromptToken()
    {
        var batch = All(Pack(8, false, new TokenizedSample([1, 2, 3, 4, 5], 3), new TokenizedSample([6, 7, 8], 1)));

        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], batch.Ids);
        Assert.Equal([X, X, 4, 5, X, 7, 8, X], batch.Targets);
        Assert.Equal([0, 5], batch.SequenceStarts);
    }

    [Fact]
    public void APromptCutAcrossRowsStaysMasked()
    {
        var batch = All(Pack(4, false, new TokenizedSample([1, 2, 3, 4, 5, 6], 5)));

        Assert.Equal([1, 2, 3, 4, /**/ 5, 6, 0, 0], batch.Ids);
        Assert.Equal([X, X, X, X, /**/ 6, X, X, X], batch.Targets);
        Assert.Equal([0, 4, 6], batch.SequenceStarts);
    }

    [Fact]
    public void OnePerRowPadsEverySample()
    {
        var dataset = Pack(4, true, Doc(1, 2), Doc(3), Doc(4, 5, 6, 7, 8));
        var batch = All(dataset);

        Assert.Equal([1, 2, 0, 0, /**/ 3, 0, 0, 0, /**/ 4, 5, 6, 7, /**/ 8, 0, 0, 0], batch.Ids);
        Assert.Equal([2, X, X, X, /**/ X, X, X, X, /**/ 5, 6, 7, X, /**/ X, X, X, X], batch.Targets);
        Assert.Equal([0, 2, 4, 5, 8, 12, 13], batch.SequenceStarts);
    }

    [Fact]
    public void ABatchTakesRowsInTheOrderAsked()
    {
        var dataset = Pack(2, true, Doc(1, 2), Doc(3, 4), Doc(5, 6));
        var batch = dataset.Batch([2, 0]);

        Assert.Equal([5, 6, 1, 2], batch.Ids);
        Assert.Equal([6, X, 2, X], batch.Targets);
        Assert.Equal([0, 2], batch.SequenceStarts);
        Assert.Equal([1, 2], dataset.Row(0).Ids.ToArray());
        Assert.Equal([0], dataset.Row(0).SequenceStarts.ToArray());
    }
}
