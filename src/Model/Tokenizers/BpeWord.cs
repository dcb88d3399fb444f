using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace RawLongLoRA.Model;

/// <summary>
/// Merges one pre-tokenized word's symbols as Hugging Face's BPE does (Word::merge_all): again and
/// again the adjacent pair of lowest rank, the leftmost among equal ranks, until no pair has a merge.
/// The pairs wait in a queue keyed by (rank, position), so a word of n symbols takes O(n log n), not
/// the O(n²) of rescanning it after every merge. The symbols stay in the word's own array, four bytes
/// each: a merge writes the new token over the left symbol and marks the right one merged away, and a
/// symbol's neighbours are the nearest ones not marked, past at most a token's length of marks. An
/// entry whose pair has changed since it was queued is skipped when it comes up (its rank is looked up
/// again, as in Hugging Face). Four bytes a symbol keep a line of 2M letters in the cache, where 16 of
/// linked symbols did not (its merge took 2.8 times the time of 1M letters, now 2.0), and a line of
/// 50 MB needs no more than its ids. The loops are compiled optimised from their first call: a line of
/// 50 MB is one call, which tiered compilation would start in its unoptimised tier (20% slower).
/// </summary>
internal static class BpeWord
{
    /// <summary>
    /// From this many symbols on, <see cref="RankBuckets"/> rather than one heap: faster from about 10K
    /// symbols on (Llama 3's merges, a line of letters), below that its arrays of one entry per rank cost more.
    /// </summary>
    public const int LongWord = 1 << 14;

    private const int None = -1; // a symbol merged away, a key of no pair, no neighbour

    /// <summary>Merges <paramref name="ids"/> in place; returns how many symbols are left, at its start.</summary>
    public static int MergeAll(Span<int> ids, BpeMerges merges) =>
        ids.Length < LongWord ? MergeWithHeap(ids, merges) : MergeByRank(ids, merges);

    /// <summary>Every pair in one 4-ary heap: right for the short words that nearly all text is made of.</summary>
    public static int MergeWithHeap(Span<int> ids, BpeMerges merges) => Merge(ids, merges, WithHeap);

    /// <summary>
    /// A long word (a line of text without spaces is one word): the pairs wait in one bucket per rank,
    /// taken in rank order and each in position order, which walks the symbols nearly in memory order
    /// where a heap of millions would miss the cache at every level. A merge makes pairs of higher rank
    /// than its own in any merge list learnt by BPE; a pair of lower or equal rank (a hand-edited list)
    /// goes to a small heap that is served first whenever it holds the lowest key, so the order stays
    /// exactly the one heap's.
    /// </summary>
    public static int MergeByRank(Span<int> ids, BpeMerges merges) => Merge(ids, merges, ByRank);

    private delegate void Loop(Span<int> symbols, BpeMerges merges);

    /// <summary>Runs the loop, then closes the gaps its merges left.</summary>
    private static int Merge(Span<int> ids, BpeMerges merges, Loop loop)
    {
        loop(ids, merges);
        int count = 0;
        foreach (int id in ids)
            if (id != None)
                ids[count++] = id;
        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WithHeap(Span<int> symbols, BpeMerges merges)
    {
        var queue = new MergeQueue(symbols.Length);
        try
        {
            for (int i = 0; i + 1 < symbols.Length; i++)
                if (merges.TryGet(symbols[i], symbols[i + 1], out int rank))
                    queue.Append(MergeQueue.Key(rank, i));
            queue.Heapify();
            while (queue.TryPop(out long key))
            {
                if (!TryMerge(symbols, merges, key, out long left, out long right))
                    continue;
                if (left != None)
                    queue.Push(left);
                if (right != None)
                    queue.Push(right);
            }
        }
        finally
        {
            queue.Dispose();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ByRank(Span<int> symbols, BpeMerges merges)
    {
        var buckets = new RankBuckets(merges.Ranks);
        var late = new MergeQueue(16);
        try
        {
            for (int i = 0; i + 1 < symbols.Length; i++)
                if (merges.TryGet(symbols[i], symbols[i + 1], out int rank))
                    buckets.Add(rank, i);
            for (int rank = buckets.Next(0); rank >= 0; rank = buckets.Next(rank + 1))
            {
                var positions = buckets.Take(rank);
                for (int j = 0; j < positions.Length; j++)
                {
                    int pos = positions[j];
                    if (j + Ahead < positions.Length)
                        Prefetch(symbols, positions[j + Ahead]);
                    long key = MergeQueue.Key(rank, pos);
                    while (late.TryPeek(out long first) && first < key)
                        MergeLate(symbols, merges, ref late, ref buckets, rank);
                    if (TryMerge(symbols, merges, key, out long left, out long right))
                    {
                        Queue(left, ref late, ref buckets, rank);
                        Queue(right, ref late, ref buckets, rank);
                    }
                }
                while (late.TryPeek(out _))
                    MergeLate(symbols, merges, ref late, ref buckets, rank);
            }
        }
        finally
        {
            late.Dispose();
            buckets.Dispose();
        }

        static void MergeLate(Span<int> symbols, BpeMerges merges, ref MergeQueue late, ref RankBuckets buckets, int rank)
        {
            late.TryPop(out long key);
            if (TryMerge(symbols, merges, key, out long left, out long right))
            {
                Queue(left, ref late, ref buckets, rank);
                Queue(right, ref late, ref buckets, rank);
            }
        }

        static void Queue(long key, ref MergeQueue late, ref RankBuckets buckets, int rank)
        {
            if (key == None)
                return;
            if ((int)(key >> 32) > rank)
                buckets.Add((int)(key >> 32), (int)key);
            else
                late.Push(key);
        }
    }

    private const int Ahead = 16;

    /// <summary>Asks for symbol <paramref name="i"/>'s cache line to be loaded while the merges before it are done.</summary>
    private static unsafe void Prefetch(Span<int> symbols, int i)
    {
        if (Sse.IsSupported)
            fixed (int* p = &symbols[i])
                Sse.Prefetch0(p);
    }

    /// <summary>
    /// Merges the pair that <paramref name="key"/> names if it is still there; gives the keys of the
    /// pairs the new token makes with its neighbours (<see cref="None"/> where they have no merge).
    /// </summary>
    private static bool TryMerge(Span<int> symbols, BpeMerges merges, long key, out long left, out long right)
    {
        left = right = None;
        int pos = (int)key, rank = (int)(key >> 32), next = NextAfter(symbols, pos);
        if (symbols[pos] == None || next == None || !merges.TryGet(symbols[pos], symbols[next], out int current) || current != rank)
            return false;
        int made = merges.Made(rank);
        symbols[pos] = made;
        symbols[next] = None;
        int after = NextAfter(symbols, next);
        if (after != None && merges.TryGet(made, symbols[after], out int r))
            right = MergeQueue.Key(r, pos);
        if (pos > 0)
        {
            int before = pos - 1;
            while (symbols[before] == None) // the symbol at 0 is never merged away
                before--;
            if (merges.TryGet(symbols[before], made, out int l))
                left = MergeQueue.Key(l, before);
        }
        return true;
    }

    /// <summary>The next symbol still there after <paramref name="i"/>, past those merged into i; None at the end.</summary>
    private static int NextAfter(Span<int> symbols, int i)
    {
        do
            i++;
        while (i < symbols.Length && symbols[i] == None);
        return i < symbols.Length ? i : None;
    }
}
