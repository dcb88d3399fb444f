namespace RawLongLoRA.Model;

/// <summary>
/// Merges one pre-tokenized word's symbols as Hugging Face's BPE does (Word::merge_all): again and
/// again the adjacent pair of lowest rank, the leftmost among equal ranks, until no pair has a merge.
/// The symbols are a linked list that also holds the rank of the pair each symbol starts, and the
/// pairs wait in a queue keyed by (rank, position), so a word of n symbols takes O(n log n), not the
/// O(n²) of rescanning it after every merge; an entry whose pair a merge has changed or removed no
/// longer matches its symbol's rank and is skipped when it comes up.
/// </summary>
internal static class BpeWord
{
    /// <summary>From this many symbols on, <see cref="RankBuckets"/> rather than one heap.</summary>
    public const int LongWord = 1 << 16;

    private const int Removed = -1, None = -1;

    /// <summary>Merges <paramref name="ids"/> in place; returns how many symbols are left, at its start.</summary>
    public static int MergeAll(Span<int> ids, BpeMerges merges) =>
        ids.Length < LongWord ? MergeWithHeap(ids, merges) : MergeByRank(ids, merges);

    /// <summary>Every pair in one 4-ary heap: right for the short words that nearly all text is made of.</summary>
    public static int MergeWithHeap(Span<int> ids, BpeMerges merges)
    {
        int n = ids.Length;
        if (n < 2)
            return n;
        int[] links = Link(ids, merges);
        var queue = new MergeQueue(n);
        try
        {
            for (int i = 0; i + 1 < n; i++)
                if (links[3 * i + 2] != None)
                    queue.Append(MergeQueue.Key(links[3 * i + 2], i));
            queue.Heapify();
            while (queue.TryPop(out long key))
            {
                if (!TryMerge(ids, links, merges, key, out long left, out long right))
                    continue;
                if (left != None)
                    queue.Push(left);
                if (right != None)
                    queue.Push(right);
            }
        }
        finally
        {
            ScratchArrays.Return(links);
            queue.Dispose();
        }
        return Compact(ids);
    }

    /// <summary>
    /// A long word (a line of text without spaces is one word): the pairs wait in one bucket per rank,
    /// taken in rank order and each in position order, which walks the symbols nearly in memory order
    /// where a heap of millions would miss the cache at every level. A merge makes pairs of higher rank
    /// than its own in any merge list learnt by BPE; a pair of lower or equal rank (a hand-edited list)
    /// goes to a small heap that is served first whenever it holds the lowest key, so the order stays
    /// exactly the one heap's.
    /// </summary>
    public static int MergeByRank(Span<int> ids, BpeMerges merges)
    {
        int n = ids.Length;
        if (n < 2)
            return n;
        int[] links = Link(ids, merges);
        var buckets = new RankBuckets(merges.Ranks);
        var late = new MergeQueue(16);
        try
        {
            for (int i = 0; i + 1 < n; i++)
                if (links[3 * i + 2] != None)
                    buckets.Add(links[3 * i + 2], i);
            for (int rank = buckets.Next(0); rank >= 0; rank = buckets.Next(rank + 1))
            {
                foreach (int pos in buckets.Take(rank))
                {
                    long key = MergeQueue.Key(rank, pos);
                    while (late.TryPeek(out long first) && first < key)
                        MergeLate(ids, links, merges, ref late, ref buckets, rank);
                    if (TryMerge(ids, links, merges, key, out long left, out long right))
                    {
                        Queue(left, ref late, ref buckets, rank);
                        Queue(right, ref late, ref buckets, rank);
                    }
                }
                while (late.TryPeek(out _))
                    MergeLate(ids, links, merges, ref late, ref buckets, rank);
            }
        }
        finally
        {
            ScratchArrays.Return(links);
            late.Dispose();
        }
        return Compact(ids);

        static void MergeLate(Span<int> ids, int[] links, BpeMerges merges, ref MergeQueue late, ref RankBuckets buckets, int rank)
        {
            late.TryPop(out long key);
            if (TryMerge(ids, links, merges, key, out long left, out long right))
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

    /// <summary>
    /// links[3i] is symbol i's left neighbour, links[3i + 1] its right one, links[3i + 2] the rank of the
    /// pair of the two (-1: none), side by side in one cache line.
    /// </summary>
    private static int[] Link(Span<int> ids, BpeMerges merges)
    {
        int n = ids.Length;
        int[] links = ScratchArrays.Rent<int>(3 * n);
        for (int i = 0; i < n; i++)
        {
            links[3 * i] = i - 1;
            links[3 * i + 1] = i + 1 < n ? i + 1 : None;
            links[3 * i + 2] = i + 1 < n && merges.TryGet(ids[i], ids[i + 1], out int rank) ? rank : None;
        }
        return links;
    }

    /// <summary>
    /// Merges the pair that <paramref name="key"/> names if it is still there; gives the keys of the
    /// pairs the new token makes with its neighbours (<see cref="None"/> where they have no merge).
    /// </summary>
    private static bool TryMerge(Span<int> ids, int[] links, BpeMerges merges, long key, out long left, out long right)
    {
        left = right = None;
        int pos = (int)key, rank = (int)(key >> 32);
        if (links[3 * pos + 2] != rank)
            return false;
        int next = links[3 * pos + 1], made = merges.Made(rank);
        int after = links[3 * next + 1], before = links[3 * pos];
        ids[pos] = made;
        ids[next] = Removed;
        links[3 * next + 2] = None;
        links[3 * pos + 1] = after;
        links[3 * pos + 2] = None;
        if (after != None)
        {
            links[3 * after] = pos;
            if (merges.TryGet(made, ids[after], out int r))
            {
                links[3 * pos + 2] = r;
                right = MergeQueue.Key(r, pos);
            }
        }
        if (before != None)
        {
            bool found = merges.TryGet(ids[before], made, out int l);
            links[3 * before + 2] = found ? l : None;
            if (found)
                left = MergeQueue.Key(l, before);
        }
        return true;
    }

    private static int Compact(Span<int> ids)
    {
        int count = 0;
        foreach (int id in ids)
            if (id != Removed)
                ids[count++] = id;
        return count;
    }
}
