using System.Text;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// SentencePiece-style BPE on random small vocabularies against a plain transcription of Hugging
/// Face's merge_word (characters to tokens, byte fallback, unknown tokens fused or not) followed by the
/// naive merge over the whole text: covers the cut into words, the word cache and the merge loop.
/// </summary>
public class SentencePieceBpeTests
{
    private static readonly string[] Characters = ["a", "b", " ", "é", "🦙", "x"]; // x is never a token; é and 🦙 only sometimes, or as byte tokens

    [Fact]
    public void Equals_Hugging_Faces_merge_word_on_random_texts()
    {
        var rng = new Random(5);
        int cut = 0;
        for (int trial = 0; trial < 200; trial++)
        {
            var vocab = RandomVocabulary(rng, out string? unknown);
            var merges = RandomMerges(rng, vocab, noMarkInside: rng.Next(2) == 0);
            bool byteFallback = rng.Next(2) == 0, fuse = rng.Next(2) == 0;
            var bpe = new SentencePieceBpe(vocab, merges, unknown, byteFallback, fuse, ignoreMerges: false, SpaceMarking.PrependNormalizer);
            cut += vocab.Keys.All(t => t.TrimStart('▁').IndexOf('▁') < 0) && unknown is not null ? 1 : 0;
            for (int t = 0; t < 10; t++)
            {
                string text = string.Concat(Enumerable.Range(0, rng.Next(40)).Select(_ => Characters[rng.Next(Characters.Length)]));
                var expected = Reference(text, vocab, merges, unknown, byteFallback, fuse);
                for (int again = 0; again < 2; again++) // the second time from the word cache
                {
                    var ids = new List<int>();
                    bpe.Encode(text, atStart: true, ids);
                    Assert.True(expected.SequenceEqual(ids), $"trial {trial}: '{text}' gave [{string.Join(",", ids)}], expected [{string.Join(",", expected)}]");
                }
            }
        }
        Assert.InRange(cut, 50, 150); // both ways of running were tried
    }

    /// <summary>Hugging Face's BPE::merge_word written plainly, on the whole marked text, then the naive merge.</summary>
    private static int[] Reference(string text, Dictionary<string, int> vocab, BpeMerges merges, string? unknown, bool byteFallback, bool fuse)
    {
        string marked = "▁" + text.Replace(' ', '▁');
        var symbols = new List<int>();
        bool unknownWaits = false;
        int unk = unknown is null ? -1 : vocab[unknown];
        foreach (var rune in marked.EnumerateRunes())
        {
            var byteTokens = Encoding.UTF8.GetBytes(rune.ToString()).Select(b => $"<0x{b:X2}>").ToList();
            if (vocab.TryGetValue(rune.ToString(), out int id))
            {
                if (unknownWaits)
                    symbols.Add(unk);
                unknownWaits = false;
                symbols.Add(id);
            }
            else if (byteFallback && byteTokens.All(vocab.ContainsKey))
            {
                symbols.AddRange(byteTokens.Select(t => vocab[t]));
            }
            else if (unknown is not null)
            {
                if (unknownWaits && !fuse)
                    symbols.Add(unk);
                unknownWaits = true;
            }
        }
        if (unknownWaits)
            symbols.Add(unk);
        return NaiveBpe.Merge(symbols, merges);
    }

    /// <summary>'▁', a, b, and at random é, 🦙, some byte tokens and an unknown token.</summary>
    private static Dictionary<string, int> RandomVocabulary(Random rng, out string? unknown)
    {
        var tokens = new List<string> { "▁", "a", "b" };
        if (rng.Next(2) == 0)
            tokens.Add("é");
        if (rng.Next(2) == 0)
            tokens.Add("🦙");
        foreach (byte b in "é🦙"u8)
            if (rng.Next(4) != 0)
                tokens.Add($"<0x{b:X2}>");
        unknown = rng.Next(3) == 0 ? null : "<unk>";
        if (unknown is not null)
            tokens.Add(unknown);
        return tokens.Distinct().Select((t, id) => (t, id)).ToDictionary(x => x.t, x => x.id, StringComparer.Ordinal);
    }

    /// <summary>Merges of two tokens into their concatenation, added to the vocabulary; with <paramref name="noMarkInside"/> none puts '▁' after another character.</summary>
    private static BpeMerges RandomMerges(Random rng, Dictionary<string, int> vocab, bool noMarkInside)
    {
        var merges = new BpeMerges();
        var parts = vocab.Keys.Where(t => !t.StartsWith('<')).ToList();
        for (int rank = 0, tries = 0; rank < 12 && tries < 100; tries++)
        {
            string left = parts[rng.Next(parts.Count)], right = parts[rng.Next(parts.Count)];
            if (noMarkInside && right.Contains('▁'))
                continue;
            string made = left + right;
            if (!vocab.ContainsKey(made))
            {
                vocab[made] = vocab.Count;
                parts.Add(made);
            }
            merges.Set(vocab[left], vocab[right], rank++, vocab[made]);
        }
        return merges;
    }
}
