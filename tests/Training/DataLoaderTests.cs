using System.Text.Json;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Shuffled batches: the same on every run and machine, every row once an epoch, and a resumed cursor continuing exactly.</summary>
public class DataLoaderTests
{
    /// <summary>Rows of 2 tokens; row i holds ids [i, i], so a batch's first ids name its rows.</summary>
    private static PackedDataset Numbered(int rows) =>
        PackedDataset.Pack(Enumerable.Range(0, rows).Select(i => new TokenizedSample([i, i], 0)), 2, padId: 0, onePerRow: true, new DataStats());

    private static int[] RowsOf(TrainingBatch batch) => [.. Enumerable.Range(0, batch.Rows).Select(r => (int)batch.Ids[r * batch.Length])];

    private static List<int[]> Take(DataLoader loader, int batches) => [.. Enumerable.Range(0, batches).Select(_ => RowsOf(loader.Next()))];

    [Fact]
    public void SplitMix64GivesThePublishedSequence()
    {
        // The reference outputs of splitmix64.c (Vigna) seeded with 1234567.
        var random = new SplitMix64(1234567);
        Assert.Equal([6457827717110365317UL, 3203168211198807973UL, 9817491932198370423UL, 4593380528125082431UL, 16408922859458223821UL],
                     Enumerable.Range(0, 5).Select(_ => random.Next()).ToArray());
    }

    [Fact]
    public void TheOrderOfAnEpochIsFixedBySeedAndEpoch()
    {
        // From an independent Python transcription of the documented algorithm; a change here changes every run's data order.
        Assert.Equal([6, 2, 7, 3, 5, 0, 1, 4], DataLoader.EpochOrder(8, seed: 42, epoch: 0));
        Assert.Equal(DataLoader.EpochOrder(100, 7, 3), DataLoader.EpochOrder(100, 7, 3));
        Assert.NotEqual(DataLoader.EpochOrder(100, 7, 3), DataLoader.EpochOrder(100, 7, 4));
        Assert.NotEqual(DataLoader.EpochOrder(100, 7, 3), DataLoader.EpochOrder(100, 8, 3));
    }

    [Fact]
    public void EveryRowAppearsOnceAnEpoch()
    {
        var loader = new DataLoader(Numbered(12), batchSize: 3, seed: 5);
        Assert.Equal(4, loader.BatchesPerEpoch);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            Assert.Equal(new DataCursor(epoch, 0), loader.Cursor);
            var rows = Take(loader, 4).SelectMany(b => b).Order();
            Assert.Equal(Enumerable.Range(0, 12), rows);
        }
    }

    [Fact]
    public void RowsAfterTheLastFullBatchWaitForAnotherEpoch()
    {
        var loader = new DataLoader(Numbered(10), batchSize: 3, seed: 5);
        var epoch = Take(loader, 3).SelectMany(b => b).ToArray();

        Assert.Equal(3, loader.BatchesPerEpoch);
        Assert.Equal(9, epoch.Distinct().Count());
        Assert.Equal(DataLoader.EpochOrder(10, 5, 0)[..9], epoch);
        Assert.Equal(new DataCursor(1, 0), loader.Cursor);
    }

    [Fact]
    public void TheSameSeedGivesTheSameBatchesAndAnotherSeedOthers()
    {
        var dataset = Numbered(20);
        var a = Take(new DataLoader(dataset, 4, seed: 1), 12);
        Assert.Equal(a, Take(new DataLoader(dataset, 4, seed: 1), 12));
        Assert.NotEqual(a, Take(new DataLoader(dataset, 4, seed: 2), 12));
    }

    [Fact]
    public void AResumedCursorContinuesWithTheSameBatches()
    {
        var dataset = Numbered(10);
        var uninterrupted = new DataLoader(dataset, 3, seed: 9);
        var expected = Enumerable.Range(0, 17).Select(_ => uninterrupted.Next()).ToList();

        var first = new DataLoader(dataset, 3, seed: 9);
        var got = Enumerable.Range(0, 7).Select(_ => first.Next()).ToList();
        string saved = JsonSerializer.Serialize(first.Cursor);
        Assert.Equal(new DataCursor(2, 1), JsonSerializer.Deserialize<DataCursor>(saved));
        var resumed = new DataLoader(dataset, 3, seed: 9, JsonSerializer.Deserialize<DataCursor>(saved));
        got.AddRange(Enumerable.Range(0, 10).Select(_ => resumed.Next()));

        Assert.Equal(expected.Count, got.Count);
        foreach (var (e, g) in expected.Zip(got))
        {
            Assert.Equal(e.Ids, g.Ids);
            Assert.Equal(e.Targets, g.Targets);
            Assert.Equal(e.Positions, g.Positions);
            Assert.Equal(e.SequenceStarts, g.SequenceStarts);
        }
        Assert.Equal(uninterrupted.Cursor, resumed.Cursor);
    }

    [Fact]
    public void ABatchSizeOrCursorThatDoesNotFitTheDataIsRefused()
    {
        var dataset = Numbered(4);
        Assert.Contains("batch size is 5", Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(dataset, 5, 0)).Message);
        Assert.Contains("batch size is 0", Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(dataset, 0, 0)).Message);
        Assert.Contains("2 batches an epoch", Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(dataset, 2, 0, new DataCursor(0, 2))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(dataset, 2, 0, new DataCursor(-1, 0)));
    }
}
