namespace RawLongLoRA.Model;

/// <summary>
/// Cuts text at the added tokens, as Hugging Face does before normalising: the leftmost match wins,
/// the longest one at that place (so "&lt;|im_end|&gt;" is not read as a shorter token that starts it).
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
    }

    /// <summary>The text as stretches of plain text (Token null) and added tokens, in order; empty stretches are left out.</summary>
    public List<(int Start, int Length, AddedToken? Token)> Split(string text)
    {
        var parts = new List<(int, int, AddedToken?)>();
        int plainStart = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (!_byFirstChar.TryGetValue(text[i], out var candidates))
                continue;
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
