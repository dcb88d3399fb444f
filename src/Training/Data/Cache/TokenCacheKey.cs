namespace RawLongLoRA.Training;

/// <summary>A data file as a token cache remembers it: a changed size or date means the cache is stale.</summary>
public sealed record CachedSource(string Path, long Bytes, DateTime ModifiedUtc)
{
    /// <summary>The path (made full), size and modification time of <paramref name="file"/> now.</summary>
    public static CachedSource Of(string file)
    {
        var info = new FileInfo(file);
        return new CachedSource(info.FullName, info.Length, info.LastWriteTimeUtc);
    }
}

/// <summary>
/// What a token cache's samples depend on: the cache layout's version, the tokenizer (a hash of its
/// files), how records become samples (format and text field; for SFT the row length and prompt
/// minimum, which decide the cuts), and the data files (path, size, date). A cache is reused only
/// when every part matches.
/// </summary>
public sealed record TokenCacheKey(int Version, string TokenizerSha256, string Format, string TextField, int? MaxLength, int? MinPromptTokens,
                                   IReadOnlyList<CachedSource> Sources)
{
    /// <summary>Bumped whenever the layout or the way samples are made changes.</summary>
    public const int CurrentVersion = 1;

    /// <summary>
    /// The key of a cache of <paramref name="files"/> tokenized by the tokenizer whose files hash to
    /// <paramref name="tokenizerSha256"/>, in <paramref name="format"/> ("pretrain" or "sft") with <paramref name="options"/>;
    /// the files' sizes and dates are read now.
    /// </summary>
    public static TokenCacheKey For(string tokenizerSha256, string format, DataOptions options, IEnumerable<string> files) =>
        new(CurrentVersion, tokenizerSha256, format, options.TextField, format == "sft" ? options.MaxLength : null,
            format == "sft" ? options.MinPromptTokens : null, [.. files.Select(CachedSource.Of)]);

    /// <summary>The same samples would come out, whatever files they came from (a cache made by rawlora tokenize is used without its sources).</summary>
    public bool SameSamplesAs(TokenCacheKey other) =>
        (Version, TokenizerSha256, Format, TextField, MaxLength, MinPromptTokens) ==
        (other.Version, other.TokenizerSha256, other.Format, other.TextField, other.MaxLength, other.MinPromptTokens);

    /// <summary>
    /// True when every part matches, the data files' paths, sizes and dates included: the cache can be reused as it
    /// is.
    /// </summary>
    public bool Matches(TokenCacheKey other) => SameSamplesAs(other) && Sources.SequenceEqual(other.Sources);

    /// <summary>The first difference, in words, for a message saying why a cache does not fit.</summary>
    public string Difference(TokenCacheKey other) =>
        Version != other.Version ? $"cache version {Version}, expected {other.Version}"
        : TokenizerSha256 != other.TokenizerSha256 ? "made with another tokenizer"
        : Format != other.Format ? $"format {Format}, this run's is {other.Format}"
        : TextField != other.TextField ? $"text field '{TextField}', this run's is '{other.TextField}'"
        : MaxLength != other.MaxLength ? $"sft samples cut to max_length {MaxLength}, this run's is {other.MaxLength}"
        : MinPromptTokens != other.MinPromptTokens ? $"min prompt tokens {MinPromptTokens}, this run's is {other.MinPromptTokens}"
        : "its data files changed";
}
