using System.Buffers;

namespace RawLongLoRA.Model;

/// <summary>
/// Cuts text at the added tokens, as Hugging Face does before normalising: the leftmost match wins,
/// the longest one at that place (so "&lt;|im_end|&gt;" is not read as a shorter token that starts it).
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;
    private readonly SearchValues<char> _firstChars; // a vectorised scan skips the text between candidates

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
        _firstChars = SearchValues.Create(_byFirstChar.Keys.ToArray());
    }

    /// <summary>The text as stretches of plain text (Token null) and added tokens, in order; empty stretches are left out.</summary>
    public List<(int Start, int Length, AddedToken? Token)> Split(string text)
    {
        var parts = new List<(int, int, AddedToken?)>();
        int plainStart = 0;
        for (int i = 0; i < text.Length; i++)
        {
            int skip = text.AsSpan(i).IndexOfAny(_firstChars);
            if (skip < 0)
                break;
            i += skip;
            var candidates = _byFirstChar[text[i]];
            var token = Array.Find(candidates, t => text.AsSpan(i).StartsWith(t.Content, StringComparison.Ordinal));
            if (token is null)
                continue;
            int plainEnd = i, next = i + token.Content.Length;
            if (token.LStrip)
                while (plainEnd > plainStart && char.IsWhiteSpace(text[plainEnd - 1]))
                    plainEnd--;
            if (token.RStrip)
                while (next < text.Length && char.IsWhiteSpace(text[next]))
                    next++;
            if (plainEnd > plainStart)
                parts.Add((plainStart, plainEnd - plainStart, null));
            parts.Add((i, token.Content.Length, token));
            plainStart = next;
            i = next - 1;
        }
        if (plainStart < text.Length)
            parts.Add((plainStart, text.Length - plainStart, null));
        return parts;
    }
}
