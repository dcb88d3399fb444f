namespace RawLongLoRA.Model;

/// <summary>
/// The queue of a long word's merge loop: the positions of the pairs of each rank, in one growing
/// array per rank, sorted by position when their rank's turn comes (those added at the first scan
/// already are). Pass it by ref.
/// </summary>
internal struct RankBuckets(int ranks)
{
    private readonly int[]?[] _positions = new int[ranks][];
    private readonly int[] _counts = new int[ranks];
    private readonly bool[] _unsorted = new bool[ranks];

    public readonly void Add(int rank, int position)
    {
        int count = _counts[rank];
        ref int[]? list = ref _positions[rank];
        if (list is null || count == list.Length)
            Array.Resize(ref list, Math.Max(4, 2 * count));
        if (count > 0 && list[count - 1] > position)
            _unsorted[rank] = true;
        list[count] = position;
        _counts[rank] = count + 1;
    }

    /// <summary>The lowest rank from <paramref name="from"/> on that has positions, or -1.</summary>
    public readonly int Next(int from)
    {
        for (int rank = from; rank < _counts.Length; rank++)
            if (_counts[rank] > 0)
                return rank;
        return -1;
    }

    /// <summary>The positions of <paramref name="rank"/> in order, handed over: the bucket is left empty.</summary>
    public readonly ReadOnlySpan<int> Take(int rank)
    {
        var list = _positions[rank]!.AsSpan(0, _counts[rank]);
        if (_unsorted[rank])
            list.Sort();
        _positions[rank] = null;
        _counts[rank] = 0;
        return list;
    }
}
