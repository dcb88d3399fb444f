using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace RawLongLoRA.Model;

/// <summary>
/// Merges one pre-tokenized word's symbols as Hugging Face's BPE does (Word::merge_all): again and
/// again the adjacent pair of lowest rank, the leftmost among equal ranks, until no pair has a merge.
/// The symbols are a linked list that also holds the rank of the pair each symbol starts, and the
/// pairs wait in a queue keyed by (rank, position), so a word of n symbols takes O(n log n), not the
/// O(n²) of rescanning it after every merge; an entry whose pair a merge has changed or removed no
/// longer matches its symbol's rank and is skipped when it comes up. A symbol's id, neighbours and
/// pair rank are four ints side by side (16 bytes, never across a cache line): a merge touches a few
/// lines, which is what its time is on a word too long for the cache. The two loops are compiled
/// optimised from their first call: a line of 50 MB is one call, which tiered compilation would start
/// in its unoptimised tier (20% slower on such a line).
/// </summary>
internal static class BpeWord
{
    /// <summary>
    /// From this many symbols on, <see cref="RankBuckets"/> rather than one heap: faster from about 10K
    /// symbols on (Llama 3's merges, a line of letters), below that its arrays of one entry per rank cost more.
    /// </summary>
    public const int LongWord = 1 << 14;

    private const int None = -1;

    // The four ints of symbol i at 4i + these.
    private const int Id = 0, Prev = 1, Next = 2, PairRank = 3;

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

    private delegate void Loop(Span<int> symbols, int n, BpeMerges merges);

    /// <summary>Links the symbols (four ints each, in 2 MB pages for a long word), runs the loop, writes the ids left back.</summary>
    private static int Merge(Span<int> ids, BpeMerges merges, Loop loop)
    {
        if (ids.Length < 2)
            return ids.Length;
        if (ids.Length >= LongWord)
        {
            using var pages = new HugePages(4 * ids.Length);
            return Merge(ids, merges, loop, pages.Span);
        }
        int[] symbols = ScratchArrays.Rent<int>(4 * ids.Length);
        try
        {
            return Merge(ids, merges, loop, symbols);
        }
        finally
        {
            ScratchArrays.Return(symbols);
        }
    }

    private static int Merge(Span<int> ids, BpeMerges merges, Loop loop, Span<int> symbols)
    {
        Link(ids, merges, symbols);
        loop(symbols, ids.Length, merges);
        return Unlink(symbols, ids);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WithHeap(Span<int> symbols, int n, BpeMerges merges)
    {
        var queue = new MergeQueue(n);
        try
        {
            for (int i = 0; i + 1 < n; i++)
                if (symbols[4 * i + PairRank] != None)
                    queue.Append(MergeQueue.Key(symbols[4 * i + PairRank], i));
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
    private static void ByRank(Span<int> symbols, int n, BpeMerges merges)
    {
        var buckets = new RankBuckets(merges.Ranks);
        var late = new MergeQueue(16);
        try
        {
            for (int i = 0; i + 1 < n; i++)
                if (symbols[4 * i + PairRank] != None)
                    buckets.Add(symbols[4 * i + PairRank], i);
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

    /// <summary>Asks for symbol <paramref name="i"/>'s cache line to be loaded, while earlier merges are being done.</summary>
    private static unsafe void Prefetch(Span<int> symbols, int i)
    {
        if (Sse.IsSupported)
            fixed (int* p = &symbols[4 * i])
                Sse.Prefetch0(p);
    }

    /// <summary>The symbols of <paramref name="ids"/>, linked, with the ranks of their pairs (None: no merge, or no right neighbour).</summary>
    private static void Link(Span<int> ids, BpeMerges merges, Span<int> symbols)
    {
        int n = ids.Length;
        for (int i = 0; i < n; i++)
        {
            symbols[4 * i + Id] = ids[i];
            symbols[4 * i + Prev] = i - 1;
            symbols[4 * i + Next] = i + 1 < n ? i + 1 : None;
            symbols[4 * i + PairRank] = i + 1 < n && merges.TryGet(ids[i], ids[i + 1], out int rank) ? rank : None;
        }
    }

    /// <summary>
    /// Merges the pair that <paramref name="key"/> names if it is still there; gives the keys of the
    /// pairs the new token makes with its neighbours (<see cref="None"/> where they have no merge).
    /// </summary>
    private static bool TryMerge(Span<int> symbols, BpeMerges merges, long key, out long left, out long right)
    {
        left = right = None;
        int pos = (int)key, rank = (int)(key >> 32);
        if (symbols[4 * pos + PairRank] != rank)
            return false;
        int next = symbols[4 * pos + Next], made = merges.Made(rank);
        int after = symbols[4 * next + Next], before = symbols[4 * pos + Prev];
        symbols[4 * pos + Id] = made;
        symbols[4 * pos + Next] = after;
        symbols[4 * pos + PairRank] = None;
        symbols[4 * next + Id] = None; // merged away
        symbols[4 * next + PairRank] = None;
        if (after != None)
        {
            symbols[4 * after + Prev] = pos;
            if (merges.TryGet(made, symbols[4 * after + Id], out int r))
            {
                symbols[4 * pos + PairRank] = r;
                right = MergeQueue.Key(r, pos);
            }
        }
        if (before != None)
        {
            bool found = merges.TryGet(symbols[4 * before + Id], made, out int l);
            symbols[4 * before + PairRank] = found ? l : None;
            if (found)
                left = MergeQueue.Key(l, before);
        }
        return true;
    }

    /// <summary>Writes the ids left, in order, to the start of <paramref name="ids"/>; returns how many.</summary>
    private static int Unlink(Span<int> symbols, Span<int> ids)
    {
        int count = 0;
        for (int i = 0; i < ids.Length; i++)
            if (symbols[4 * i + Id] != None)
                ids[count++] = symbols[4 * i + Id];
        return count;
    }
}
