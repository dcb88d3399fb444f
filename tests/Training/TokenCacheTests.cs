using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The token cache: rows from the memory-mapped cache equal the rows packed in memory, a matching
/// cache is reused and a stale or damaged one made again, a cancelled tokenization leaves nothing
/// that looks complete, and a folder made by rawlora tokenize is the data itself.
/// </summary>
public sealed class TokenCacheTests : IDisposable
{
    private static readonly string ModelDir = TokenizerFixtures.Tiny("bytelevel");
    private static readonly Tokenizer ByteLevel = Tokenizer.Load(ModelDir);
    private static readonly DataOptions Rows16 = new() { MaxLength = 16 };

    private readonly string _dir = Directory.CreateTempSubdirectory("rawlora-cache-").FullName;
    private readonly List<string> _said = [];

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Cache => Path.Combine(_dir, "cache");

    private string[] Corpus()
    {
        string a = Path.Combine(_dir, "a.jsonl"), b = Path.Combine(_dir, "b.txt");
        File.WriteAllLines(a, Enumerable.Range(0, 30).Select(i => $"{{\"text\": \"{new string((char)('a' + i % 7), i % 23)} doc {i}\"}}"));
        File.WriteAllText(b, string.Concat(Enumerable.Range(0, 50).Select(i => $"line {i} of a long text file\n")));
        return [a, b];
    }

    private TokenCache Prepare(IReadOnlyList<string> data, string format = "pretrain", DataOptions? options = null, CancellationToken cancel = default) =>
        TrainingData.Prepare(data, ModelDir, ByteLevel, format, options ?? Rows16, Cache, null, _said.Add, cancel);

    private static void AssertSameRows(PackedDataset expected, PackedDataset actual)
    {
        Assert.Equal(expected.RowCount, actual.RowCount);
        var all = Enumerable.Range(0, expected.RowCount).ToArray();
        Assert.Equal(expected.Batch(all), actual.Batch(all), (x, y) =>
            x.Ids.SequenceEqual(y.Ids) && x.Targets.SequenceEqual(y.Targets) && x.Positions.SequenceEqual(y.Positions) && x.SequenceStarts.SequenceEqual(y.SequenceStarts));
        Assert.Equal(expected.Stats.ToString(), actual.Stats.ToString());
    }

    [Fact]
    public void RowsFromTheCacheEqualRowsPackedInMemory()
    {
        var files = Corpus();
        using var cache = Prepare(files);
        using var fromCache = TrainingData.Pack(cache, files, ByteLevel, Rows16);

        AssertSameRows(PackedDataset.FromDocuments(files, ByteLevel, Rows16), fromCache);
        Assert.True(fromCache.Stats.SplitDocuments > 0);
        Assert.Equal(cache.Manifest.Tokens * 4, new FileInfo(Path.Combine(Cache, TokenCache.TokensFile)).Length);
    }

    [Fact]
    public void SftSamplesKeepTheirPromptMaskAndCutsInTheCache()
    {
        string file = Path.Combine(_dir, "sft.jsonl");
        File.WriteAllLines(file, Enumerable.Range(0, 12).Select(i =>
            $"{{\"instruction\": \"say {i}\", \"input\": \"{new string('x', i * 3)}\", \"output\": \"{new string('y', 1 + i % 9)}\"}}"));
        var options = new DataOptions { MaxLength = 48 };
        using var cache = Prepare([file], "sft", options);
        using var fromCache = TrainingData.Pack(cache, [file], ByteLevel, options);

        AssertSameRows(PackedDataset.FromInstructions([file], ByteLevel, options), fromCache);
        Assert.True(cache.Manifest.TruncatedPrompts > 0);
    }

    [Fact]
    public void AMatchingCacheIsReusedAndAChangedFileMakesItAgain()
    {
        var files = Corpus();
        using (Prepare(files))
        { }
        var written = File.GetLastWriteTimeUtc(Path.Combine(Cache, TokenCacheManifest.FileName));
        using (var reused = Prepare(files))
            Assert.Equal(written, File.GetLastWriteTimeUtc(Path.Combine(Cache, TokenCacheManifest.FileName)));
        Assert.Contains(_said, s => s.StartsWith($"data: tokenized before, reusing {Cache}"));

        File.AppendAllText(files[1], "one more line\n");
        using var again = Prepare(files);
        Assert.Contains(_said, s => s.Contains("is stale (its data files changed); tokenizing again"));
        using var rows = TrainingData.Pack(again, files, ByteLevel, Rows16);
        AssertSameRows(PackedDataset.FromDocuments(files, ByteLevel, Rows16), rows);
    }

    [Fact]
    public void AnotherTokenizerOrSftRowLengthMakesTheCacheAgain()
    {
        string file = Path.Combine(_dir, "sft.jsonl");
        File.WriteAllText(file, "{\"instruction\": \"a\", \"output\": \"bcd\"}\n");
        using (Prepare([file], "sft", new DataOptions { MaxLength = 64 }))
        { }
        using (Prepare([file], "sft", new DataOptions { MaxLength = 32 }))
        { }
        Assert.Contains(_said, s => s.Contains("sft samples cut to max_length 64, this run's is 32"));

        string other = Path.Combine(_dir, "other-tokenizer");
        Directory.CreateDirectory(other);
        foreach (string f in Directory.GetFiles(ModelDir))
            File.Copy(f, Path.Combine(other, Path.GetFileName(f)));
        File.AppendAllText(Path.Combine(other, "tokenizer.json"), "\n");
        using (TrainingData.Prepare([file], other, ByteLevel, "sft", new DataOptions { MaxLength = 32 }, Cache, null, _said.Add, default))
        { }
        Assert.Contains(_said, s => s.Contains("made with another tokenizer"));
    }

    [Fact]
    public void ADamagedCacheIsNamedAndMadeAgain()
    {
        var files = Corpus();
        using (Prepare(files))
        { }
        string tokens = Path.Combine(Cache, TokenCache.TokensFile);
        using (var stream = File.Open(tokens, FileMode.Open))
            stream.SetLength(stream.Length - 4);

        var e = Assert.Throws<DataException>(() => TokenCache.TryOpen(Cache));
        Assert.StartsWith($"{tokens}: holds ", e.Message);
        Assert.Contains("the cache is damaged: delete the folder to tokenize again", e.Message);
        using var remade = Prepare(files);
        Assert.Contains(_said, s => s.StartsWith($"data: {tokens}: holds ") && s.EndsWith("; tokenizing again"));
        Assert.Equal(remade.Manifest.Tokens * 4, new FileInfo(tokens).Length);
    }

    [Fact]
    public void ASampleRecordOutsideTheTokensIsNamed()
    {
        var files = Corpus();
        using (Prepare(files))
        { }
        string samples = Path.Combine(Cache, TokenCache.SamplesFile);
        byte[] bytes = File.ReadAllBytes(samples);
        BitConverter.GetBytes(1 << 20).CopyTo(bytes, 16 + 12); // sample 1's prompt, longer than the sample
        File.WriteAllBytes(samples, bytes);

        var e = Assert.Throws<DataException>(() => TokenCache.TryOpen(Cache));
        Assert.StartsWith($"{samples}: sample 1: offset ", e.Message);
        Assert.Contains($"prompt {1 << 20}; expected offset", e.Message);
    }

    [Fact]
    public void ACancelledTokenizationLeavesNoCacheAndTheNextOneWorks()
    {
        var files = Corpus();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => Prepare(files, cancel: cancelled.Token));
        Assert.False(Directory.Exists(Cache));
        Assert.Empty(Directory.GetDirectories(_dir, "cache.tmp-*"));
        using var cache = Prepare(files);
        Assert.Equal(31, cache.Count);
    }

    [Fact]
    public void AFolderMadeByTokenizeIsTheDataAndMustFitTheRun()
    {
        var files = Corpus();
        string made = Path.Combine(_dir, "made.tok");
        TrainingData.Tokenize(files, ByteLevel, "pretrain", Rows16, ModelDir, made, null, default);

        using (var given = TrainingData.Prepare([made], ModelDir, ByteLevel, "pretrain", Rows16, Cache, null, _said.Add, default))
        {
            Assert.Equal(made, given.Dir);
            Assert.False(Directory.Exists(Cache));
        }
        var e = Assert.Throws<DataException>(() => TrainingData.Prepare([made], ModelDir, ByteLevel, "sft", Rows16, Cache, null, null, default));
        Assert.Equal($"{made}: this token cache does not fit the run: format pretrain, this run's is sft; make it again with rawlora tokenize", e.Message);
    }

    [Fact]
    public void TokenizingOnManyThreadsGivesTheSamplesInFileOrder()
    {
        string file = Path.Combine(_dir, "many.jsonl");
        var texts = Enumerable.Range(0, 5000).Select(i => $"document {i} {new string('z', i % 97)}").ToList();
        File.WriteAllLines(file, texts.Select(t => $"{{\"text\": \"{t}\"}}"));
        using var cache = Prepare([file]);

        Assert.Equal(texts.Count, cache.Count);
        int eos = ByteLevel.EosIds[0];
        for (int i = 0; i < texts.Count; i += 7)
            Assert.Equal([.. ByteLevel.Encode(texts[i]), eos], cache.Ids(i).ToArray());
    }
}
