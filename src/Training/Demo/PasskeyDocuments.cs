using System.Text;

namespace RawLongLoRA.Training;

/// <summary>
/// The demo's text with long-range structure: LongLoRA's passkey task in bytes. A document is filler
/// sentences with "The pass key is 12345. Remember it. 12345 is the pass key." at some depth, and
/// ends with "What is the pass key? The pass key is 12345." — predicting those last digits needs the
/// key from far back, which is what a longer context must keep working. Deterministic per seed.
/// </summary>
internal static class PasskeyDocuments
{
    public const string Filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";
    public const string Question = "What is the pass key? The pass key is";

    public static string KeyLine(int key) => $"The pass key is {key}. Remember it. {key} is the pass key. ";

    /// <summary>
    /// A prompt of exactly <paramref name="length"/> bytes ending with the question, the key line starting
    /// at about <paramref name="depth"/> (0: first, 1: last) of the filler; the filler starts at a rotating offset
    /// so that no two prompts line up.
    /// </summary>
    public static string Prompt(int length, int key, double depth, int fillerOffset = 0)
    {
        string keyLine = KeyLine(key);
        int filler = length - keyLine.Length - Question.Length;
        if (filler < 0)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"passkey: {length} bytes cannot hold the key line and the question ({keyLine.Length + Question.Length})");
        int before = (int)Math.Round(Math.Clamp(depth, 0, 1) * filler);
        var text = new StringBuilder(length);
        AppendFiller(text, fillerOffset, before);
        text.Append(keyLine);
        AppendFiller(text, fillerOffset + before, filler - before);
        text.Append(Question);
        return text.ToString();
    }

    /// <summary>The answer that completes <see cref="Prompt"/>: " 12345."</summary>
    public static string Answer(int key) => $" {key}.";

    /// <summary>A training document of exactly <paramref name="length"/> tokens (bytes, then end-of-text).</summary>
    internal static long[] Document(int length, ref SplitMix64 random)
    {
        int key = 10000 + random.NextBelow(90000);
        double depth = random.NextBelow(1001) / 1000.0;
        int offset = random.NextBelow(Filler.Length);
        string answer = Answer(key);
        string prompt = Prompt(length - answer.Length - 1, key, depth, offset);
        return [.. Encoding.UTF8.GetBytes(prompt + answer).Select(b => (long)b), DemoTokenizer.EndOfText];
    }

    private static void AppendFiller(StringBuilder text, int offset, int count)
    {
        for (int i = 0; i < count; i++)
            text.Append(Filler[(offset + i) % Filler.Length]);
    }
}
