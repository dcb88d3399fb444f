using System.Text;

namespace RawLongLoRA.Bench.Tokenize;

/// <summary>
/// The texts `bench tokenize` measures, generated (nothing copyrighted, the same every run): English
/// prose and Python code from word lists, Chinese from the most common Han characters grouped into
/// words with CJK punctuation, and prose or Chinese with everything but the letters removed — one line
/// without spaces, which is what a Chinese or Japanese book looks like to a pre-tokenizer. Words are drawn with
/// a Zipf-like skew (rank k about as often as 1/k), as in real text.
/// </summary>
public static class TokenizeTexts
{
    private static readonly string[] Nouns =
        ("time year people way day man thing woman life child world school state family student group country problem hand part " +
         "place case week company system program question work government number night point home water room mother area money " +
         "story fact month lot right study book eye job word business issue side kind head house service friend father power hour " +
         "game line end member law car city community name president team minute idea kid body information back parent face " +
         "others level office door health person art war history party result change morning reason research girl guy moment " +
         "air teacher force education river garden window letter village market engine bridge island forest kitchen mountain").Split(' ');

    private static readonly string[] Verbs =
        ("was had said made found took gave told became left felt brought began kept held wrote stood heard meant met ran paid " +
         "sat spoke lay led read grew lost fell sent built understood drew broke spent cut rose drove bought wore chose sought " +
         "opened walked watched followed carried reached remembered answered noticed turned changed moved covered").Split(' ');

    private static readonly string[] Adjectives =
        ("good new first last long great little own other old right big high different small large next early young important " +
         "few public bad same able late hard major better economic strong possible whole free military true federal " +
         "international full special easy clear recent certain personal open red difficult available likely short single " +
         "medical current wrong private past foreign fine common poor natural significant similar hot dead central happy " +
         "serious ready simple left physical general environmental financial blue democratic dark various entire close").Split(' ');

    private static readonly string[] Small =
        ("the of and a to in is you that it he for on are with as his they at be this from I have or by one had not but what " +
         "all were when we there can an your which their said if do will each about how up out them then she many some so " +
         "these would other into has more her two like him see time could no make than first been its who now people my").Split(' ');

    private static readonly string[] Names = "Anna Ben Clara David Elena Farid Grace Hiro Ines Jonas Kemal Laura Marco Nadia Oskar Priya".Split(' ');

    /// <summary>Han characters in about the order of their frequency in modern Chinese.</summary>
    private const string Han =
        "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单";

    /// <summary>English prose: sentences of 4 to 24 words, paragraphs of a few sentences.</summary>
    public static string Prose(int length, int seed)
    {
        var rng = new Random(seed);
        var text = new StringBuilder(length + 200);
        while (text.Length < length)
        {
            for (int s = rng.Next(2, 7); s > 0; s--)
                text.Append(Sentence(rng)).Append(s > 1 ? " " : "\n\n");
        }
        return text.ToString(0, length);
    }

    /// <summary>Python: functions and classes with names from the word lists, 4-space indents, comments and literals.</summary>
    public static string Code(int length, int seed)
    {
        var rng = new Random(seed);
        var text = new StringBuilder(length + 400);
        while (text.Length < length)
        {
            string name = Identifier(rng), item = Pick(rng, Nouns), items = item + "s";
            if (rng.Next(3) == 0)
                text.Append($"class {char.ToUpperInvariant(name[0])}{name[1..].Replace("_", "")}:\n    \"\"\"{Sentence(rng)}\"\"\"\n\n    def __init__(self, {items}):\n        self.{items} = list({items})\n\n");
            text.Append($"def {name}({items}, limit={rng.Next(1, 1000)}):\n")
                .Append($"    # {Sentence(rng)}\n")
                .Append($"    result = {(rng.Next(2) == 0 ? "[]" : "{}")}\n")
                .Append($"    for i, {item} in enumerate({items}):\n")
                .Append($"        if {item}.{Identifier(rng)} > limit * {rng.NextDouble() * 10:F2}:\n")
                .Append($"            raise ValueError(f\"{item} {{i}} is {Pick(rng, Adjectives)}: {{{item}!r}}\")\n")
                .Append($"        result.append(({item}.{Identifier(rng)}, i + {rng.Next(100)}))\n")
                .Append($"    return sorted(result, key=lambda x: x[{rng.Next(2)}])\n\n\n");
        }
        return text.ToString(0, length);
    }

    /// <summary>Chinese: words of one to three common Han characters, clauses cut by ， and 、, sentences ended by 。？！, some 「quotes」.</summary>
    public static string Chinese(int length, int seed)
    {
        var rng = new Random(seed);
        var words = new string[3000];
        for (int i = 0; i < words.Length; i++)
            words[i] = string.Concat(Enumerable.Range(0, 1 + Zipf(rng, 3)).Select(_ => Han[Zipf(rng, Han.Length)]));
        var text = new StringBuilder(length + 100);
        while (text.Length < length)
        {
            bool quoted = rng.Next(8) == 0;
            if (quoted)
                text.Append('「');
            for (int clause = rng.Next(1, 4); clause > 0; clause--)
            {
                for (int w = rng.Next(2, 8); w > 0; w--)
                    text.Append(words[Zipf(rng, words.Length)]);
                text.Append(clause > 1 ? (rng.Next(5) == 0 ? '、' : '，') : "。。。？！"[rng.Next(5)]);
            }
            if (quoted)
                text.Append('」');
            if (rng.Next(6) == 0)
                text.Append('\n');
        }
        return text.ToString(0, length);
    }

    /// <summary>The letters of <see cref="Prose"/> alone: one line without spaces or punctuation.</summary>
    public static string Letters(int length, int seed) => OnlyLetters(chunk => Prose(1 << 16, seed + chunk), length);

    /// <summary>The Han characters of <see cref="Chinese"/> alone: one line of <paramref name="length"/> characters.</summary>
    public static string HanLine(int length, int seed) => OnlyLetters(chunk => Chinese(1 << 16, seed + chunk), length);

    private static string OnlyLetters(Func<int, string> chunk, int length)
    {
        var letters = new StringBuilder(length);
        for (int i = 0; letters.Length < length; i++)
            foreach (char c in chunk(i))
                if (char.IsLetter(c) && letters.Length < length)
                    letters.Append(c);
        return letters.ToString();
    }

    private static string Sentence(Random rng)
    {
        var words = new List<string>();
        for (int w = rng.Next(4, 25); w > 0; w--)
        {
            int kind = rng.Next(10);
            words.Add(kind < 4 ? Pick(rng, Small) : kind < 6 ? Pick(rng, Nouns) : kind < 8 ? Pick(rng, Adjectives)
                : kind < 9 ? Pick(rng, Verbs) : rng.Next(3) == 0 ? Pick(rng, Names) : rng.Next(2) == 0 ? rng.Next(1, 2030).ToString() : Pick(rng, Nouns) + "'s");
            if (w > 2 && rng.Next(12) == 0)
                words[^1] += ",";
        }
        string first = words[0];
        words[0] = char.ToUpperInvariant(first[0]) + first[1..];
        return string.Join(' ', words) + ".....?!"[rng.Next(7)];
    }

    private static string Identifier(Random rng) => $"{Pick(rng, Verbs)}_{Pick(rng, Nouns)}";

    private static string Pick(Random rng, string[] words) => words[Zipf(rng, words.Length)];

    /// <summary>An index below n, index k drawn about as often as 1/(k + 1).</summary>
    private static int Zipf(Random rng, int n) => Math.Min(n - 1, (int)Math.Pow(n + 1, rng.NextDouble()) - 1);
}
