namespace RawLongLoRA.Training;

/// <summary>
/// Perplexity over all documents: token-weighted (the NLL summed over every scored token, then divided
/// by their count), as Hugging Face's recipe computes it, so long documents weigh more than short ones.
/// </summary>
public sealed record PerplexityResult(int Window, int Stride, IReadOnlyList<DocumentPerplexity> Documents, int SkippedDocuments)
{
    /// <summary>Tokens scored over all documents (every token but each document's first).</summary>
    public long TokensScored => Documents.Sum(d => d.TokensScored);

    /// <summary>The NLL summed over every scored token, in nats.</summary>
    public double NllSum => Documents.Sum(d => d.NllSum);

    /// <summary>NLL per scored token: NllSum / TokensScored.</summary>
    public double MeanNll => NllSum / TokensScored;

    /// <summary>e^MeanNll: the token-weighted perplexity.</summary>
    public double Perplexity => Math.Exp(MeanNll);
}
