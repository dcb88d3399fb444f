namespace RawLongLoRA.Training;

/// <summary>
/// One kind of training data: how a file's records are read (in order, on one thread; cheap) and how
/// each becomes a sample (<see cref="PendingSample.Tokenize"/>, on any thread: the tokenizer is
/// thread-safe). <see cref="CorpusTokenizer"/> runs the two.
/// </summary>
internal abstract class SampleFormat
{
    /// <summary>The records of <paramref name="file"/>, in order, each still to be tokenized.</summary>
    public abstract IEnumerable<PendingSample> Records(string file);
}

/// <summary>A record read but not yet tokenized: the bytes of the file it stands for (progress) and the work left.</summary>
internal readonly record struct PendingSample(long Bytes, Func<SampleOutcome> Tokenize);

/// <summary>A record tokenized: its sample, or null where it was skipped (empty), and the cuts made to fit a row.</summary>
internal readonly record struct SampleOutcome(TokenizedSample? Sample, bool TruncatedPrompt = false, bool TruncatedAnswer = false)
{
    public static readonly SampleOutcome Skipped = new(null);
}
