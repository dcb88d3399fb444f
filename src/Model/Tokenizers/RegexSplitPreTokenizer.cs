using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace RawLongLoRA.Model;

/// <summary>
/// Hugging Face's Split pre-tokenizer with behaviour "Isolated": every regex match is a piece, and so
/// is any text between matches. Hugging Face matches on code points, .NET's Regex on UTF-16 units,
/// where a letter outside the BMP (𠀀, 𝐀) is two surrogates and matches neither \p{L} nor
/// [^\p{L}]? as one character. So text with surrogate pairs is matched through a stand-in string,
/// one BMP character of the same Unicode category per code point, and the pieces are mapped back.
/// </summary>
internal sealed class RegexSplitPreTokenizer(string pattern)
{
    private readonly Regex _regex = new(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);

    /// <summary>The pieces of <paramref name="text"/>, in order, as (offset, length).</summary>
    public List<(int Offset, int Length)> Split(ReadOnlySpan<char> text)
    {
        if (text.IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
            return Match(text, null);
        var standIn = new char[text.Length];
        var start = new int[text.Length + 1]; // stand-in index -> index in text
        int n = 0;
        for (int i = 0; i < text.Length; n++)
        {
            start[n] = i;
            if (Rune.DecodeFromUtf16(text[i..], out var rune, out int used) == System.Buffers.OperationStatus.Done && used == 2)
                standIn[n] = StandIn(CharUnicodeInfo.GetUnicodeCategory(rune.Value));
            else
                standIn[n] = text[i];
            i += used == 0 ? 1 : used;
        }
        start[n] = text.Length;
        return Match(standIn.AsSpan(0, n), start);
    }

    private List<(int Offset, int Length)> Match(ReadOnlySpan<char> text, int[]? start)
    {
        var pieces = new List<(int, int)>();
        int end = 0;
        foreach (var m in _regex.EnumerateMatches(text))
        {
            if (m.Index > end)
                Add(end, m.Index);
            if (m.Length > 0)
                Add(m.Index, m.Index + m.Length);
            end = m.Index + m.Length;
        }
        if (end < text.Length)
            Add(end, text.Length);
        return pieces;

        void Add(int from, int to)
        {
            int a = start?[from] ?? from, b = start?[to] ?? to;
            pieces.Add((a, b - a));
        }
    }

    /// <summary>A BMP character of the category, one that no pre-tokenizer pattern names literally.</summary>
    private static char StandIn(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter => 'Ж',
        UnicodeCategory.LowercaseLetter => 'ж',
        UnicodeCategory.TitlecaseLetter => 'ǅ',
        UnicodeCategory.ModifierLetter => 'ʰ',
        UnicodeCategory.OtherLetter => '一',
        UnicodeCategory.NonSpacingMark => '\u0300',
        UnicodeCategory.SpacingCombiningMark => '\u0903',
        UnicodeCategory.EnclosingMark => '\u20DD',
        UnicodeCategory.DecimalDigitNumber => '٠',
        UnicodeCategory.LetterNumber => 'Ⅰ',
        UnicodeCategory.OtherNumber => '²',
        UnicodeCategory.ConnectorPunctuation => '‿',
        UnicodeCategory.DashPunctuation => '‐',
        UnicodeCategory.OpenPunctuation => '⁅',
        UnicodeCategory.ClosePunctuation => '⁆',
        UnicodeCategory.InitialQuotePunctuation => '‹',
        UnicodeCategory.FinalQuotePunctuation => '›',
        UnicodeCategory.OtherPunctuation => '※',
        UnicodeCategory.MathSymbol => '⁒',
        UnicodeCategory.CurrencySymbol => '₠',
        UnicodeCategory.ModifierSymbol => '˅',
        UnicodeCategory.OtherSymbol => '©',
        UnicodeCategory.Format => '\u200B',
        UnicodeCategory.PrivateUse => '\uE000',
        _ => '\u0378', // unassigned
    };
}
