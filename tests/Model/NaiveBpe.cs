using RawLongLoRA.Model;

namespace RawLongLoRA.Tests;

/// <summary>
/// The slow, obviously right BPE the fast merge loop (BpeWord) is tested against: find the adjacent
/// pair of lowest rank, the leftmost of equal ranks, merge it, and start again — O(n²).
/// </summary>
internal static class NaiveBpe
{
    public static int[] Merge(IEnumerable<int> symbols, BpeMerges merges)
    {
        var word = symbols.ToList();
        while (true)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int i = 0; i + 1 < word.Count; i++)
            {
                if (merges.TryGet(word[i], word[i + 1], out int rank) && rank < bestRank)
                {
                    best = i;
                    bestRank = rank;
                }
            }
            if (best < 0)
                return [.. word];
            word[best] = merges.Made(bestRank);
            word.RemoveAt(best + 1);
        }
    }

    /// <summary>
    /// A random merge list over <paramref name="alphabet"/> symbols: each merge joins two tokens made so
    /// far, or with <paramref name="anyOrder"/> any two tokens, including ones later merges make (what a
    /// list learnt by BPE never has). Some merges make a token another pair makes too, and some pairs
    /// come twice, as in real lists.
    /// </summary>
    public static BpeMerges RandomMerges(Random rng, int alphabet, int count, bool anyOrder)
    {
        var merges = new BpeMerges();
        int tokens = alphabet;
        for (int rank = 0; rank < count; rank++)
        {
            int limit = anyOrder ? alphabet + count : tokens;
            int made = rng.Next(8) == 0 && tokens > alphabet ? rng.Next(alphabet, tokens) : tokens++;
            merges.Set(rng.Next(limit), rng.Next(limit), rank, made);
        }
        return merges;
    }

    /// <summary>Random symbols below <paramref name="alphabet"/>, with runs ("aaaa") where pairs of equal rank overlap.</summary>
    public static int[] RandomWord(Random rng, int alphabet, int length)
    {
        var word = new int[length];
        for (int i = 0; i < length; i++)
            word[i] = i > 0 && rng.Next(3) == 0 ? word[i - 1] : rng.Next(alphabet);
        return word;
    }
}
