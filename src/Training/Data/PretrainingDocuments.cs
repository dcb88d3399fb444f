using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// Pretraining documents: a .txt file is one document (UTF-8, read whole); a .jsonl file holds one
/// document a line, its text in <see cref="DataOptions.TextField"/>. Each becomes the tokenizer's BOS
/// (where it adds one), the text's ids, and the first EOS; an empty text is skipped and counted.
/// </summary>
internal sealed class PretrainingDocuments(Tokenizer tokenizer, string textField) : SampleFormat
{
    private readonly int _eos = DataTokens.Eos(tokenizer);

    public override IEnumerable<PendingSample> Records(string file) =>
        Texts(file, textField).Select(d => new PendingSample(d.Bytes, () => d.Text.Length == 0
            ? SampleOutcome.Skipped
            : new SampleOutcome(new TokenizedSample([.. tokenizer.Encode(d.Text, addBos: true), _eos], 0))));

    /// <summary>The documents of one file, each with its jsonl line (null for a .txt file) and the bytes it takes in the file.</summary>
    internal static IEnumerable<(string Text, int? Line, long Bytes)> Texts(string file, string field)
    {
        if (DataFiles.IsText(file))
            return [(Utf8Text.ReadAll(file), null, new FileInfo(file).Length)];
        if (DataFiles.IsJsonLines(file))
            return JsonLines.Read(file).Select(record => (record.String(field), (int?)record.Line, (long)record.Bytes));
        throw DataFiles.UnknownKind(file);
    }
}
