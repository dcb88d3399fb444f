namespace RawLongLoRA.Model;

/// <summary>
/// The BPE merge loop's queue: a 4-ary min-heap of keys (rank &lt;&lt; 32) | position, so the lowest rank
/// comes first and, among equal ranks, the leftmost pair. One long per entry keeps a queue of tens of
/// millions compact; four children per node halve a binary heap's depth. Pass it by ref; Dispose
/// gives its array back.
/// </summary>
internal struct MergeQueue(int capacity) : IDisposable
{
    private long[] _keys = ScratchArrays.Rent<long>(Math.Max(capacity, 16));
    private int _count;

    public static long Key(int rank, int position) => ((long)rank << 32) | (uint)position;

    /// <summary>Adds a key without ordering; <see cref="Heapify"/> before the first pop.</summary>
    public void Append(long key)
    {
        if (_count == _keys.Length)
            Grow();
        _keys[_count++] = key;
    }

    /// <summary>Orders the appended keys in linear time, bottom-up.</summary>
    public readonly void Heapify()
    {
        for (int i = (_count - 2) >> 2; i >= 0; i--)
            SiftDown(i, _keys[i]);
    }

    public void Push(long key)
    {
        if (_count == _keys.Length)
            Grow();
        int i = _count++;
        while (i > 0)
        {
            int parent = (i - 1) >> 2;
            if (_keys[parent] <= key)
                break;
            _keys[i] = _keys[parent];
            i = parent;
        }
        _keys[i] = key;
    }

    public readonly bool TryPeek(out long key)
    {
        key = _count > 0 ? _keys[0] : 0;
        return _count > 0;
    }

    public bool TryPop(out long key)
    {
        if (_count == 0)
        {
            key = 0;
            return false;
        }
        key = _keys[0];
        if (--_count > 0)
            SiftDown(0, _keys[_count]);
        return true;
    }

    public void Dispose()
    {
        ScratchArrays.Return(_keys);
        _keys = [];
        _count = 0;
    }

    /// <summary>Puts <paramref name="key"/> at <paramref name="i"/> or below, moving smaller children up.</summary>
    private readonly void SiftDown(int i, long key)
    {
        var keys = _keys;
        int count = _count;
        while (true)
        {
            int first = 4 * i + 1;
            if (first >= count)
                break;
            int min = first, end = Math.Min(first + 4, count);
            long minKey = keys[first];
            for (int c = first + 1; c < end; c++)
            {
                if (keys[c] < minKey)
                {
                    min = c;
                    minKey = keys[c];
                }
            }
            if (minKey >= key)
                break;
            keys[i] = minKey;
            i = min;
        }
        keys[i] = key;
    }

    private void Grow()
    {
        var bigger = ScratchArrays.Rent<long>(_keys.Length * 2);
        Array.Copy(_keys, bigger, _count);
        ScratchArrays.Return(_keys);
        _keys = bigger;
    }
}
