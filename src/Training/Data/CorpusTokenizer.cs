namespace RawLongLoRA.Training;

/// <summary>How far tokenizing the data files has come: bytes of the files read and tokenized, of the total, and the tokens made.</summary>
public readonly record struct DataProgress(long BytesDone, long BytesTotal, long Tokens);

/// <summary>
/// Tokenizes data files into samples, in file order, on every core: records are read in order on one
/// thread, gathered into batches of a few MB, tokenized in parallel and handed on in order, so the
/// samples are the same whatever the core count. Stops between batches when cancelled.
/// </summary>
internal static class CorpusTokenizer
{
    private const long BatchBytes = 8 << 20;
    private const int BatchRecords = 4096;

    /// <summary>Hands every sample to <paramref name="add"/>; the stats count the records skipped and truncated.</summary>
    public static DataStats Run(IReadOnlyList<string> files, SampleFormat format, Action<TokenizedSample> add,
                                IProgress<DataProgress>? progress, CancellationToken cancel)
    {
        var stats = new DataStats();
        long total = files.Sum(f => new FileInfo(f).Length), done = 0, tokens = 0;
        var batch = new List<PendingSample>();
        long batchBytes = 0;
        progress?.Report(new DataProgress(0, total, 0));
        foreach (string file in files)
        {
            foreach (var record in format.Records(file))
            {
                cancel.ThrowIfCancellationRequested();
                batch.Add(record);
                batchBytes += record.Bytes;
                if (batchBytes >= BatchBytes || batch.Count >= BatchRecords)
                    Flush();
            }
        }
        Flush();
        return stats;

        void Flush()
        {
            if (batch.Count == 0)
                return;
            var outcomes = new SampleOutcome[batch.Count];
            Parallel.For(0, batch.Count, new ParallelOptions { CancellationToken = cancel }, i => outcomes[i] = batch[i].Tokenize());
            foreach (var o in outcomes)
            {
                if (o.Sample is not { } sample)
                {
                    stats.Skipped++;
                    continue;
                }
                stats.TruncatedPrompts += o.TruncatedPrompt ? 1 : 0;
                stats.TruncatedAnswers += o.TruncatedAnswer ? 1 : 0;
                tokens += sample.Ids.Length;
                add(sample);
            }
            done = Math.Min(total, done + batchBytes);
            progress?.Report(new DataProgress(done, total, tokens));
            batch.Clear();
            batchBytes = 0;
        }
    }
}
