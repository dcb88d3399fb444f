namespace RawLongLoRA.Training;

/// <summary>One document's score: where it was read (the jsonl line; null for a .txt file), its tokens and the NLL summed over those scored.</summary>
public sealed record DocumentPerplexity(string File, int? Line, int Tokens, long TokensScored, double NllSum)
{
    /// <summary>NLL per scored token, in nats.</summary>
    public double MeanNll => NllSum / TokensScored;

    /// <summary>e^MeanNll.</summary>
    public double Perplexity => Math.Exp(MeanNll);
}
