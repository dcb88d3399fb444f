using System.Globalization;
using System.Text;

namespace RawLongLoRA.Model;

/// <summary>
/// How a SentencePiece-style tokenizer.json writes spaces: every ' ' becomes '▁', and a '▁' is put in
/// front of the text. The old Llama conversions do that with a Prepend normalizer (on every stretch
/// between added tokens, always); newer ones with a Metaspace pre-tokenizer (only where the text
/// does not start with '▁' already, and with prepend_scheme "first" only at the start of the input).
/// </summary>
internal sealed record SpaceMarking(bool Prepend, bool OnlyAtStart, bool OnlyIfUnmarked)
{
    public const char Mark = '\u2581';

    public static readonly SpaceMarking PrependNormalizer = new(true, false, false);

    public string Apply(string text, bool atStart)
    {
        bool prepend = Prepend && (atStart || !OnlyAtStart) && !(OnlyIfUnmarked && text.Length > 0 && text[0] is ' ' or Mark);
        // One pass, one string: a line of megabytes is copied once, not twice.
        return string.Create(text.Length + (prepend ? 1 : 0), (text, prepend), static (marked, state) =>
        {
            if (state.prepend)
                marked[0] = Mark;
            state.text.AsSpan().Replace(marked[(state.prepend ? 1 : 0)..], ' ', Mark);
        });
    }

    /// <summary>The bytes a piece stands for: "&lt;0x0A&gt;" one byte (with byte fallback), else its text with '▁' as ' '.</summary>
    public static byte[] PieceBytes(string piece, bool byteFallback) =>
        byteFallback && piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
        && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b)
            ? [b]
            : Encoding.UTF8.GetBytes(piece.Replace(Mark, ' '));
}
