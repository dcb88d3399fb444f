namespace RawLongLoRA.Model;

/// <summary>
/// A BPE's merges: a pair of adjacent token ids → the merge's rank (lower merges first), and a rank →
/// the token its merge makes. Ranks are places in tokenizer.json's merge list, one pair each. The
/// merge loop asks for a pair's rank several times per symbol, so that is an open-addressing table of
/// its own: a multiplicative hash (a long's own hash, left ^ right, puts (a, b) and (b, a) and many
/// more in one bucket), linear probing in a table at most half full, key and rank side by side.
/// </summary>
internal sealed class BpeMerges
{
    private const long Empty = -1; // no pair of two ids >= 0 has this key

    private long[] _slots = NewSlots(16); // key, rank, key, rank...
    private int _shift = 64 - 4;
    private int[] _made = new int[16];

    public int Count { get; private set; }

    /// <summary>One more than the highest rank.</summary>
    public int Ranks { get; private set; }

    /// <summary>
    /// The merge of rank <paramref name="rank"/>, which must not have been given before. A pair listed
    /// again takes the later rank, as in the map Hugging Face builds from the list.
    /// </summary>
    public void Set(int left, int right, int rank, int made)
    {
        if (rank >= _made.Length)
            Array.Resize(ref _made, Math.Max(2 * _made.Length, rank + 1));
        _made[rank] = made;
        Ranks = Math.Max(Ranks, rank + 1);
        Add(Pair(left, right), rank);
    }

    public bool TryGet(int left, int right, out int rank)
    {
        int i = Find(Pair(left, right));
        rank = (int)_slots[i + 1];
        return _slots[i] != Empty;
    }

    /// <summary>The token that the merge of rank <paramref name="rank"/> makes.</summary>
    public int Made(int rank) => _made[rank];

    private void Add(long key, long rank)
    {
        if (2 * (Count + 1) > _slots.Length / 2)
            Resize();
        int i = Find(key);
        if (_slots[i] == Empty)
            Count++;
        _slots[i] = key;
        _slots[i + 1] = rank;
    }

    /// <summary>The slot of <paramref name="key"/>, or the empty slot where it would go.</summary>
    private int Find(long key)
    {
        var slots = _slots;
        int mask = slots.Length - 2;
        int i = (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> _shift) * 2;
        while (slots[i] != key && slots[i] != Empty)
            i = (i + 2) & mask;
        return i;
    }

    private void Resize()
    {
        var old = _slots;
        _slots = NewSlots(old.Length);
        _shift--;
        Count = 0;
        for (int i = 0; i < old.Length; i += 2)
            if (old[i] != Empty)
                Add(old[i], old[i + 1]);
    }

    /// <summary>Slots for <paramref name="entries"/> entries (a power of two), all empty.</summary>
    private static long[] NewSlots(int entries)
    {
        var slots = new long[2 * entries];
        Array.Fill(slots, Empty);
        return slots;
    }

    private static long Pair(int left, int right) => ((long)left << 32) | (uint)right;
}
