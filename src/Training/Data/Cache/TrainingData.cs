using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// The data a run trains on, tokenized once into a <see cref="TokenCache"/>: data files are tokenized
/// (in parallel, with progress) into a cache folder keyed by the files' sizes and dates, the
/// tokenizer's fingerprint and the sample options, and a later run with the same key (a resume, a
/// second run) maps the cache instead of tokenizing again. A folder made by <c>rawlora tokenize</c>
/// may be given as the data itself.
/// </summary>
public static class TrainingData
{
    /// <summary>The cache folder's name inside a run's output folder, unless data_cache names another.</summary>
    public const string CacheFolder = "data-cache";

    /// <summary>
    /// The samples of <paramref name="data"/> as a token cache: the cache in <paramref name="cacheDir"/>
    /// when its key matches, else tokenized into it (replacing a stale one). <paramref name="format"/>:
    /// "pretrain" or "sft".
    /// </summary>
    public static TokenCache Prepare(IReadOnlyList<string> data, string modelDir, Tokenizer tokenizer, string format, DataOptions options,
                                     string cacheDir, IProgress<DataProgress>? progress, Action<string>? say, CancellationToken cancel)
    {
        options.Validate();
        string fingerprint = TokenizerFingerprint.Of(modelDir);
        if (data.Count == 1 && TokenCache.TryOpen(data[0]) is { } given)
            return Fits(given, TokenCacheKey.For(fingerprint, format, options, []));
        var files = DataFiles.Expand(data);
        var key = TokenCacheKey.For(fingerprint, format, options, files);
        if (TryOpenStale(cacheDir, say) is { } cached)
        {
            if (cached.Manifest.Key.Matches(key))
            {
                say?.Invoke($"data: tokenized before, reusing {cacheDir} ({cached.Manifest.Tokens:N0} tokens)");
                return cached;
            }
            say?.Invoke($"data: the cache in {cacheDir} is stale ({cached.Manifest.Key.Difference(key)}); tokenizing again");
            cached.Dispose();
        }
        Tokenize(files, Format(format, tokenizer, options), key, cacheDir, progress, cancel);
        return TokenCache.TryOpen(cacheDir)!;
    }

    /// <summary>Tokenizes <paramref name="files"/> into a new cache in <paramref name="cacheDir"/>.</summary>
    public static void Tokenize(IReadOnlyList<string> files, Tokenizer tokenizer, string format, DataOptions options, string modelDir,
                                string cacheDir, IProgress<DataProgress>? progress, CancellationToken cancel)
    {
        options.Validate();
        var key = TokenCacheKey.For(TokenizerFingerprint.Of(modelDir), format, options, files);
        Tokenize(files, Format(format, tokenizer, options), key, cacheDir, progress, cancel);
    }

    /// <summary>Throws, naming the path, unless <paramref name="data"/> is one token cache folder or names data files that exist.</summary>
    public static void Check(IReadOnlyList<string> data)
    {
        if (!(data.Count == 1 && TokenCacheManifest.TryRead(data[0]) is not null))
            DataFiles.Expand(data);
    }

    /// <summary>The data files <paramref name="paths"/> name (files, or folders' .txt and .jsonl files), in packing order.</summary>
    public static IReadOnlyList<string> Files(IEnumerable<string> paths) => DataFiles.Expand(paths);

    /// <summary>The packed rows of a cache; an error naming the data when nothing is left to train on.</summary>
    public static PackedDataset Pack(TokenCache cache, IReadOnlyList<string> data, Tokenizer tokenizer, DataOptions options)
    {
        var dataset = PackedDataset.FromSamples(cache, options.MaxLength, DataTokens.Pad(tokenizer), options.OnePerRow, cache.Manifest.Stats());
        if (dataset.RowCount > 0)
            return dataset;
        dataset.Dispose();
        throw DataFiles.NoSamples(data, cache.Manifest.Stats());
    }

    private static void Tokenize(IReadOnlyList<string> files, SampleFormat format, TokenCacheKey key, string cacheDir,
                                 IProgress<DataProgress>? progress, CancellationToken cancel)
    {
        using var writer = new TokenCacheWriter(cacheDir);
        var stats = CorpusTokenizer.Run(files, format, writer.Add, progress, cancel);
        writer.Finish(key, stats);
    }

    private static SampleFormat Format(string format, Tokenizer tokenizer, DataOptions options) => format == "sft"
        ? new InstructionSamples(tokenizer, options)
        : new PretrainingDocuments(tokenizer, options.TextField);

    private static TokenCache Fits(TokenCache given, TokenCacheKey run)
    {
        if (given.Manifest.Key.SameSamplesAs(run))
            return given;
        given.Dispose();
        throw new DataException(given.Dir, null, null, $"this token cache does not fit the run: {given.Manifest.Key.Difference(run)}; make it again with rawlora tokenize");
    }

    /// <summary>The cache in <paramref name="dir"/>, or null where there is none or it cannot be read (then it is made again).</summary>
    private static TokenCache? TryOpenStale(string dir, Action<string>? say)
    {
        try
        {
            return TokenCache.TryOpen(dir);
        }
        catch (DataException e)
        {
            say?.Invoke($"data: {e.Message}; tokenizing again");
            return null;
        }
    }
}
