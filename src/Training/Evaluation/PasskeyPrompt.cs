using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// The strings of a passkey-retrieval prompt; the defaults are LongLoRA's (passkey_retrivial.py, after
/// Landmark Attention): the task, filler up to the target length with the key's line inserted at a
/// depth, then the question. Another model (a small byte-level one) can bring its own strings.
/// </summary>
public sealed record PasskeyPrompt
{
    /// <summary>The first part; left out when empty.</summary>
    public string Task { get; init; } = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you about the important information there.";

    /// <summary>Repeated (and cut) to fill the prompt; LongLoRA's sentences joined by spaces.</summary>
    public string Filler { get; init; } = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";

    /// <summary>The line holding the key; {key} is replaced by it.</summary>
    public string KeyLine { get; init; } = "The pass key is {key}. Remember it. {key} is the pass key.";

    /// <summary>The last part, which the key's digits should continue; left out when empty.</summary>
    public string Question { get; init; } = "What is the pass key? The pass key is";

    /// <summary>Put between the parts.</summary>
    public string Separator { get; init; } = "\n";

    /// <summary>Digits of the random key (LongLoRA draws 1 … 50000; a fixed width makes every key as hard).</summary>
    public int KeyDigits { get; init; } = 5;

    /// <summary>
    /// The prompt with <paramref name="fillerChars"/> characters of filler, the key's line after the
    /// first round(depth × fillerChars) of them. Both pieces start at the filler's beginning, as LongLoRA's.
    /// </summary>
    public string Build(string key, int fillerChars, double depth)
    {
        if (Filler.Length == 0)
            throw new ArgumentException("passkey: the filler is empty");
        if (!(depth >= 0 && depth <= 1))
            throw new ArgumentException($"passkey: the depth must be in [0, 1], got {depth}");
        int before = (int)Math.Round(depth * fillerChars);
        string[] parts = [Task, FillerOf(before), KeyLine.Replace("{key}", key), FillerOf(fillerChars - before), Question];
        return string.Join(Separator, parts.Where((part, i) => part.Length > 0 || i is 1 or 3));
    }

    /// <summary>
    /// The ids of the longest prompt (most filler) that is at most <paramref name="length"/> tokens,
    /// the tokenizer's BOS included: a binary search over the filler's characters.
    /// </summary>
    public int[] Fit(Tokenizer tokenizer, string key, int length, double depth)
    {
        int[] Ids(int chars) => tokenizer.Encode(Build(key, chars, depth), addBos: true);
        int[] best = Ids(0);
        if (best.Length > length)
            throw new ArgumentException($"passkey: a length of {length} tokens is shorter than the prompt without filler ({best.Length} tokens)");
        int low = 0, high = Math.Max(Filler.Length, length);
        for (int[] ids; (ids = Ids(high)).Length <= length; high *= 2)
            (low, best) = (high, ids);
        while (high - low > 1)
        {
            int mid = low + (high - low) / 2;
            int[] ids = Ids(mid);
            if (ids.Length <= length)
                (low, best) = (mid, ids);
            else
                high = mid;
        }
        return best;
    }

    private string FillerOf(int chars)
    {
        var text = new System.Text.StringBuilder(chars + Filler.Length);
        while (text.Length < chars)
            text.Append(Filler);
        return text.ToString(0, chars);
    }
}
