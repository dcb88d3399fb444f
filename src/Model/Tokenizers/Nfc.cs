using System.Globalization;
using System.Text;

namespace RawLongLoRA.Model;

/// <summary>
/// Unicode canonical composition (NFC), the normalizer Qwen's tokenizer.json names. The engine runs
/// with InvariantGlobalization, where string.Normalize returns its input unchanged, so this is done
/// here from the tables in <see cref="NfcData"/>: decompose fully, put combining marks in canonical
/// order, then recompose (Unicode Standard, section 3.11).
/// </summary>
internal static class Nfc
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Lazy<Tables> Data = new(Tables.Parse);

    public static string Normalize(string text)
    {
        // Text below U+0300 is always in NFC: nothing there decomposes to, or composes with, a mark.
        if (!text.AsSpan().ContainsAnyExceptInRange('\0', '\u02FF'))
            return text;
        // Only stretches around characters that may change are normalised: a cut before a starter that
        // has no decomposition and composes with nothing before it changes nothing.
        var tables = Data.Value;
        StringBuilder? normalized = null;
        int done = 0;
        for (int i = tables.NextThatMayChange(text, 0); i < text.Length;)
        {
            int start = Math.Max(done, i - 1), end = i + 1; // the starter before may compose with it
            while (end < text.Length && tables.MayChange(text[end]))
                end++;
            normalized ??= new StringBuilder(text.Length);
            normalized.Append(text, done, start - done);
            AppendNormalized(text.AsSpan(start, end - start), tables, normalized);
            done = end;
            i = tables.NextThatMayChange(text, end);
        }
        return normalized is null ? text : normalized.Append(text, done, text.Length - done).ToString();
    }

    private static void AppendNormalized(ReadOnlySpan<char> text, Tables tables, StringBuilder output)
    {
        var cps = new List<int>(text.Length);
        foreach (var rune in text.EnumerateRunes())
            Decompose(rune.Value, tables, cps);
        SortMarks(cps, tables);
        Compose(cps, tables);
        Span<char> utf16 = stackalloc char[2];
        foreach (int cp in cps)
            output.Append(utf16[..new Rune(cp).EncodeToUtf16(utf16)]);
    }

    private static void Decompose(int cp, Tables tables, List<int> output)
    {
        int s = cp - SBase;
        if (s is >= 0 and < SCount)
        {
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0)
                output.Add(TBase + s % TCount);
        }
        else if (tables.Decomposition.TryGetValue(cp, out var parts))
        {
            foreach (int part in parts)
                Decompose(part, tables, output);
        }
        else
        {
            output.Add(cp);
        }
    }

    /// <summary>Stable sort of each run of non-starters by combining class (insertion sort: runs are short).</summary>
    private static void SortMarks(List<int> cps, Tables tables)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int cls = tables.Class(cps[i]);
            if (cls == 0)
                continue;
            int cp = cps[i], j = i;
            while (j > 0 && tables.Class(cps[j - 1]) > cls)
            {
                cps[j] = cps[j - 1];
                j--;
            }
            cps[j] = cp;
        }
    }

    private static void Compose(List<int> cps, Tables tables)
    {
        if (cps.Count == 0)
            return;
        int starter = tables.Class(cps[0]) == 0 ? 0 : -1;
        int write = 1, lastClass = starter == 0 ? 0 : 256;
        for (int read = 1; read < cps.Count; read++)
        {
            int cp = cps[read], cls = tables.Class(cp);
            // lastClass is 0 only right after the starter; otherwise an earlier uncomposed mark of the
            // same or a higher class blocks this one from the starter.
            bool reachable = starter >= 0 && (lastClass < cls || lastClass == 0);
            if (reachable && TryCompose(cps[starter], cp, tables) is int composed)
            {
                cps[starter] = composed;
                continue;
            }
            if (cls == 0)
                starter = write;
            lastClass = cls;
            cps[write++] = cp;
        }
        cps.RemoveRange(write, cps.Count - write);
    }

    private static int? TryCompose(int first, int second, Tables tables)
    {
        int l = first - LBase, v = second - VBase;
        if (l is >= 0 and < LCount && v is >= 0 and < VCount)
            return SBase + (l * VCount + v) * TCount;
        int s = first - SBase, t = second - TBase;
        if (s is >= 0 and < SCount && s % TCount == 0 && t is > 0 and < TCount)
            return first + t;
        return tables.Composition.TryGetValue(((long)first << 21) | (uint)second, out int c) ? c : null;
    }

    private sealed class Tables
    {
        public readonly Dictionary<int, byte> Classes = [];
        public readonly Dictionary<int, int[]> Decomposition = [];
        public readonly Dictionary<long, int> Composition = [];

        /// <summary>Bit c: UTF-16 unit c may change in NFC or change what is around it (a surrogate: always).</summary>
        private readonly ulong[] _mayChange = new ulong[65536 / 64];

        public int Class(int cp) => Classes.TryGetValue(cp, out byte c) ? c : 0;

        public bool MayChange(char c) => (_mayChange[c >> 6] & (1UL << c)) != 0;

        public int NextThatMayChange(string text, int from)
        {
            int i = from;
            while (i < text.Length && !MayChange(text[i]))
                i++;
            return i;
        }

        /// <summary>Marks what has a decomposition, a combining class, or composes with what comes before it.</summary>
        private void MarkWhatMayChange()
        {
            var marked = Classes.Keys.Concat(Decomposition.Keys).Concat(Composition.Keys.Select(pair => (int)(pair & 0x1FFFFF)))
                .Concat(Enumerable.Range(VBase, VCount)).Concat(Enumerable.Range(TBase + 1, TCount - 1))
                .Concat(Enumerable.Range(0xD800, 0x800));
            foreach (int cp in marked.Where(cp => cp is >= 0x300 and < 0x10000))
                _mayChange[cp >> 6] |= 1UL << cp;
        }

        public static Tables Parse()
        {
            var t = new Tables();
            foreach (var entry in Entries(NfcData.CombiningClasses))
            {
                int eq = entry.IndexOf('=');
                var range = entry[..eq].Split('-');
                int first = Hex(range[0]), last = range.Length > 1 ? Hex(range[1]) : first;
                byte cls = byte.Parse(entry[(eq + 1)..], CultureInfo.InvariantCulture);
                for (int cp = first; cp <= last; cp++)
                    t.Classes[cp] = cls;
            }
            foreach (var entry in Entries(NfcData.Decompositions))
            {
                int sep = entry.IndexOfAny([':', '!']);
                int cp = Hex(entry[..sep]);
                int[] parts = entry[(sep + 1)..].Split('.').Select(Hex).ToArray();
                t.Decomposition[cp] = parts;
                if (entry[sep] == ':')
                    t.Composition[((long)parts[0] << 21) | (uint)parts[1]] = cp;
            }
            t.MarkWhatMayChange();
            return t;
        }

        private static string[] Entries(string data) =>
            data.Split([' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries);

        private static int Hex(string s) => int.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
