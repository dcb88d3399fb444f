namespace RawLongLoRA.Training;

/// <summary>
/// One window of a sliding-window perplexity: the model reads tokens [Begin, End) of a document with
/// positions from 0, and the tokens [ScoreFrom, End) are scored, each predicted from those before it
/// in the window.
/// </summary>
public readonly record struct SlidingWindow(int Begin, int End, int ScoreFrom)
{
    /// <summary>How many tokens this window scores.</summary>
    public int Scored => End - ScoreFrom;

    /// <summary>
    /// Hugging Face's perplexity recipe: windows of <paramref name="window"/> tokens start every
    /// <paramref name="stride"/> tokens, and each scores only the tokens the previous ones did not (the
    /// first window all but the document's first token, which nothing predicts). With stride &lt; window
    /// every other token is scored exactly once, with at least window − stride tokens of context once
    /// past the first window. With stride = window the windows do not overlap (LongLoRA's evaluation)
    /// and the first token of each window, having no context in it, is not scored.
    /// </summary>
    public static IReadOnlyList<SlidingWindow> Plan(int tokens, int window, int stride)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        if (window < 2)
            throw new ArgumentException($"perplexity: the window must hold at least 2 tokens, got {window}");
        if (stride < 1 || stride > window)
            throw new ArgumentException($"perplexity: the stride must be between 1 and the window ({window}), got {stride}");
        var plan = new List<SlidingWindow>();
        int scoredUpTo = 1;
        for (int begin = 0; tokens > 1; begin += stride)
        {
            int end = Math.Min(begin + window, tokens);
            int from = Math.Max(scoredUpTo, begin + 1);
            if (end > from)
                plan.Add(new SlidingWindow(begin, end, from));
            scoredUpTo = end;
            if (end == tokens)
                break;
        }
        return plan;
    }
}
