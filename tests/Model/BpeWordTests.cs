using System.Text;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The merge loop against the naive BPE: on random words over small random merge lists, and on long
/// lines without spaces through the real Llama 2, Llama 3 and Qwen3 merges.
/// </summary>
public class BpeWordTests
{
    private delegate int MergeLoop(Span<int> ids, BpeMerges merges);

    private static readonly (string Name, MergeLoop Merge)[] Loops =
        [("heap", BpeWord.MergeWithHeap), ("by rank", BpeWord.MergeByRank), ("either", BpeWord.MergeAll)];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Equals_the_naive_merge_on_random_words(bool anyOrder)
    {
        var rng = new Random(anyOrder ? 2 : 1);
        for (int trial = 0; trial < 300; trial++)
        {
            int alphabet = rng.Next(1, 6);
            var merges = NaiveBpe.RandomMerges(rng, alphabet, rng.Next(1, 40), anyOrder);
            var word = NaiveBpe.RandomWord(rng, alphabet, rng.Next(0, 200));
            var expected = NaiveBpe.Merge(word, merges);
            foreach (var (name, merge) in Loops)
            {
                var ids = (int[])word.Clone();
                int n = merge(ids, merges);
                Assert.True(expected.AsSpan().SequenceEqual(ids.AsSpan(0, n)), $"{name}, trial {trial}: [{string.Join(",", word)}]");
            }
        }
    }

    [Fact]
    public void Overlapping_pairs_of_one_rank_merge_from_the_left()
    {
        var merges = new BpeMerges();
        merges.Set(0, 0, 0, 1); // a a -> aa
        merges.Set(1, 0, 1, 2); // aa a -> aaa
        foreach (var (name, merge) in Loops)
        {
            int[] ids = [0, 0, 0, 0, 0];
            int n = merge(ids, merges);
            Assert.True(ids.AsSpan(0, n).SequenceEqual([1, 2]), name); // aa aa a, then aa aaa
        }
    }

    [Theory]
    [InlineData("llama2")]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    public void Long_lines_without_spaces_through_real_merges(string model)
    {
        var source = TokenizerJson.Read(Path.Combine(TokenizerFixtures.RealDir(model), "tokenizer.json"));
        var merges = source.Model switch
        {
            ByteLevelBpe b => b.Merges,
            SentencePieceBpe s => s.Merges,
            var other => throw new InvalidOperationException(other.GetType().Name),
        };
        foreach (string text in new[] { TokenizerTexts.Letters(3000, seed: 1), TokenizerTexts.Han(1500, seed: 2) })
        {
            var symbols = Symbols(source, text);
            Assert.Equal(NaiveBpe.Merge(symbols, merges), Merged(BpeWord.MergeWithHeap, symbols, merges));
            Assert.Equal(NaiveBpe.Merge(symbols, merges), Merged(BpeWord.MergeByRank, symbols, merges));
        }
        // Past the naive merge's reach: the two fast loops against each other, above the length where the tokenizer switches.
        foreach (string text in new[] { TokenizerTexts.Letters(BpeWord.LongWord + 1000, seed: 3), TokenizerTexts.Han(BpeWord.LongWord + 1000, seed: 4) })
        {
            var symbols = Symbols(source, text);
            Assert.Equal(Merged(BpeWord.MergeWithHeap, symbols, merges), Merged(BpeWord.MergeByRank, symbols, merges));
        }
    }

    /// <summary>A line's first symbols: its UTF-8 bytes (byte level), or its characters after a '▁' (SentencePiece; these texts need no byte fallback).</summary>
    private static int[] Symbols(TokenizerSource source, string text) => source.Kind == TokenizerKind.ByteLevel
        ? Encoding.UTF8.GetBytes(text).Select(b => source.Vocabulary[ByteLevelAlphabet.CharOf(b).ToString()]).ToArray()
        : ("\u2581" + text).Select(c => source.Vocabulary[c.ToString()]).ToArray();

    private static int[] Merged(MergeLoop merge, int[] symbols, BpeMerges merges)
    {
        var ids = (int[])symbols.Clone();
        return ids[..merge(ids, merges)];
    }
}
