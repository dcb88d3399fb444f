namespace RawLongLoRA.Training;

/// <summary>What building a <see cref="PackedDataset"/> did to the samples, for the trainer to log.</summary>
public sealed class DataStats
{
    /// <summary>Samples (documents or instruction records) packed into rows.</summary>
    public int Samples { get; internal set; }

    /// <summary>Samples left out: empty documents, instruction records with an empty output.</summary>
    public int Skipped { get; internal set; }

    /// <summary>SFT samples whose prompt lost tokens from its start to fit a row.</summary>
    public int TruncatedPrompts { get; internal set; }

    /// <summary>SFT samples whose answer lost its tail (its EOS included) to fit a row.</summary>
    public int TruncatedAnswers { get; internal set; }

    /// <summary>Documents longer than a row, split across rows.</summary>
    public int SplitDocuments { get; internal set; }

    /// <summary>Rows of max_length tokens the samples were packed into.</summary>
    public int Rows { get; internal set; }

    /// <summary>Sample tokens in the rows.</summary>
    public long Tokens { get; internal set; }

    /// <summary>Padding tokens at the ends of rows (they are no target).</summary>
    public long PaddingTokens { get; internal set; }

    /// <summary>One line of every count, for logs.</summary>
    public override string ToString() =>
        $"{Samples} samples in {Rows} rows ({Tokens} tokens, {PaddingTokens} padding); {Skipped} skipped, " +
        $"{SplitDocuments} split, {TruncatedPrompts} prompts and {TruncatedAnswers} answers truncated";
}
