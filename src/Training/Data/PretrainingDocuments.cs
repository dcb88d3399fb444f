using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// Pretraining documents: a .txt file is one document (UTF-8, read whole); a .jsonl file holds one
/// document a line, its text in <see cref="DataOptions.TextField"/>. Each becomes the tokenizer's BOS
/// (where it adds one), the text's ids, and the first EOS; an empty text is skipped and counted.
/// </summary>
internal static class PretrainingDocuments
{
    public static IEnumerable<TokenizedSample> Read(IReadOnlyList<string> files, Tokenizer tokenizer, DataOptions options, DataStats stats)
    {
        int eos = DataTokens.Eos(tokenizer);
        foreach (string file in files)
        {
            foreach (var (text, _) in Texts(file, options.TextField))
            {
                if (text.Length == 0)
                {
                    stats.Skipped++;
                    continue;
                }
                yield return new TokenizedSample([.. tokenizer.Encode(text, addBos: true), eos], 0);
            }
        }
    }

    /// <summary>The documents of one file, each with its jsonl line (null for a .txt file).</summary>
    internal static IEnumerable<(string Text, int? Line)> Texts(string file, string field)
    {
        if (DataFiles.IsText(file))
            return [(Utf8Text.ReadAll(file), null)];
        if (DataFiles.IsJsonLines(file))
            return JsonLines.Read(file).Select(record => (record.String(field), (int?)record.Line));
        throw new DataException(file, null, null, "unknown kind of file; expected .txt (one document) or .jsonl (one document a line)");
    }
}
