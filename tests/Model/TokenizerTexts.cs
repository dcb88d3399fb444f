using RawLongLoRA.Model;

namespace RawLongLoRA.Tests;

/// <summary>Lines without spaces for the tokenizer tests, as a book in Chinese looks to a pre-tokenizer.</summary>
internal static class TokenizerTexts
{
    private static readonly Lazy<string> CommonHan = new(() => string.Concat(
        TokenizerJson.Read(Path.Combine(TokenizerFixtures.RealDir("llama2"), "tokenizer.json")).Vocabulary.Keys.Where(t => t.Length == 1 && t[0] is >= '\u4E00' and <= '\u9FFF')));

    public static string Letters(int length, int seed)
    {
        var rng = new Random(seed);
        return string.Create(length, rng, (chars, r) =>
        {
            for (int i = 0; i < chars.Length; i++)
                chars[i] = (char)('a' + r.Next(26));
        });
    }

    /// <summary>Han characters that Llama 2's vocabulary has as tokens: its few hundred most common.</summary>
    public static string Han(int length, int seed)
    {
        var rng = new Random(seed);
        string han = CommonHan.Value;
        return string.Create(length, rng, (chars, r) =>
        {
            for (int i = 0; i < chars.Length; i++)
                chars[i] = han[r.Next(han.Length)];
        });
    }
}
