namespace RawLongLoRA.Training;

/// <summary>One document's score: where it was read (the jsonl line; null for a .txt file), its tokens and the NLL summed over those scored.</summary>
public sealed record DocumentPerplexity(string File, int? Line, int Tokens, long TokensScored, double NllSum)
{
    public double MeanNll => NllSum / TokensScored;

    public double Perplexity => Math.Exp(MeanNll);
}
