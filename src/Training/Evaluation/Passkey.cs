using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// Passkey retrieval, LongLoRA's protocol: a random key hidden at a depth of filler text, the prompt
/// fitted to a length in tokens, greedy decoding, correct when the answer's first digits are the key.
/// Every key (and drawn depth) comes from the seed, the length, the depth's index and the trial, so
/// a run repeats exactly and a cell does not change when other lengths or trials are added.
/// </summary>
public static class Passkey
{
    /// <summary>
    /// Runs every trial of <paramref name="options"/> on <paramref name="model"/> (greedy, full attention), calling
    /// <paramref name="onTrial"/> after each, and returns the table of accuracies. A length past the model's context
    /// throws unless the options allow it.
    /// </summary>
    public static PasskeyResult Evaluate(CausalLM model, Tokenizer tokenizer, PasskeyOptions options, Action<PasskeyTrial>? onTrial = null)
    {
        options.Validate();
        foreach (int length in options.Lengths)
            EvalContext.Require(model, length, options.AllowBeyondContext, "passkey: a prompt");
        options.Prompt.Fit(tokenizer, new string('0', options.Prompt.KeyDigits), options.Lengths.Min(), 0); // too short a length fails before any trial
        return EvalContext.InEvalMode(model, () =>
        {
            var table = new PasskeyTable(options.Lengths, options.Depths);
            var trials = new List<PasskeyTrial>();
            for (int l = 0; l < table.Lengths.Length; l++)
                for (int d = 0; d < table.Depths.Length; d++)
                    for (int t = 0; t < options.Trials; t++)
                    {
                        var trial = Ask(model, tokenizer, options, table.Lengths[l], table.Depths[d], d, t);
                        table.Add(l, d, trial.Correct);
                        trials.Add(trial);
                        onTrial?.Invoke(trial);
                    }
            return new PasskeyResult(table, trials);
        });
    }

    /// <summary>The key of a trial and the depth it uses (the requested one, or one drawn when that is null).</summary>
    public static (string Key, double Depth) Draw(ulong seed, int length, int depthIndex, double? depth, int trial, int keyDigits)
    {
        var random = new SplitMix64(SplitMix64.Mix(SplitMix64.Mix(SplitMix64.Mix(seed) ^ (ulong)length) ^ (ulong)depthIndex) ^ (ulong)trial);
        ulong low = 1;
        for (int i = 1; i < keyDigits; i++)
            low *= 10;
        ulong key = low + (ulong)(Math.BigMul(random.Next(), 9 * low, out _));
        return (key.ToString(System.Globalization.CultureInfo.InvariantCulture), depth ?? (random.Next() >> 11) / (double)(1UL << 53));
    }

    /// <summary>Whether the answer's first run of digits is the key (" 12345." is; " 1234", " 123456" are not).</summary>
    public static bool IsCorrect(string key, string answer)
    {
        int start = 0;
        while (start < answer.Length && !char.IsAsciiDigit(answer[start]))
            start++;
        int end = start;
        while (end < answer.Length && char.IsAsciiDigit(answer[end]))
            end++;
        return end > start && answer.AsSpan(start, end - start).SequenceEqual(key);
    }

    private static PasskeyTrial Ask(CausalLM model, Tokenizer tokenizer, PasskeyOptions options, int length, double? depth, int depthIndex, int trial)
    {
        var (key, used) = Draw(options.Seed, length, depthIndex, depth, trial, options.Prompt.KeyDigits);
        int[] prompt = options.Prompt.Fit(tokenizer, key, length, used);
        var sampling = new SamplingOptions
        {
            MaxNewTokens = tokenizer.Encode(" " + key, addBos: false).Length + options.ExtraNewTokens,
            StopTokens = [.. tokenizer.EosIds],
        };
        string answer = tokenizer.Decode(TextGeneration.Generate(model, prompt, sampling), skipSpecialTokens: true);
        return new PasskeyTrial(length, depth, trial, used, key, prompt.Length, answer, IsCorrect(key, answer));
    }
}
