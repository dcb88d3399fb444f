namespace RawLongLoRA.Training;

/// <summary>
/// Perplexity over all documents: token-weighted (the NLL summed over every scored token, then divided
/// by their count), as Hugging Face's recipe computes it, so long documents weigh more than short ones.
/// </summary>
public sealed record PerplexityResult(int Window, int Stride, IReadOnlyList<DocumentPerplexity> Documents, int SkippedDocuments)
{
    public long TokensScored => Documents.Sum(d => d.TokensScored);

    public double NllSum => Documents.Sum(d => d.NllSum);

    public double MeanNll => NllSum / TokensScored;

    public double Perplexity => Math.Exp(MeanNll);
}
