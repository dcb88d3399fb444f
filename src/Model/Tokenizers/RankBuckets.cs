namespace RawLongLoRA.Model;

/// <summary>
/// The queue of a long word's merge loop: the positions of the pairs of each rank, in one growing
/// array per rank, sorted by position when their rank's turn comes (those added at the first scan
/// already are). Every array comes from <see cref="ScratchArrays"/> and goes back to it, so that a
/// line of millions of symbols leaves the GC nothing to collect. Pass it by ref; Dispose at the end.
/// </summary>
internal struct RankBuckets : IDisposable
{
    private readonly int[]?[] _positions;
    private readonly int[] _counts;
    private readonly bool[] _unsorted;
    private readonly int _ranks;
    private int[]? _taken;

    public RankBuckets(int ranks)
    {
        _ranks = ranks;
        _positions = ScratchArrays.Rent<int[]?>(ranks);
        _counts = ScratchArrays.Rent<int>(ranks);
        _unsorted = ScratchArrays.Rent<bool>(ranks);
        Array.Clear(_positions, 0, ranks);
        Array.Clear(_counts, 0, ranks);
        Array.Clear(_unsorted, 0, ranks);
    }

    public readonly void Add(int rank, int position)
    {
        int count = _counts[rank];
        ref int[]? list = ref _positions[rank];
        if (list is null || count == list.Length)
        {
            var bigger = ScratchArrays.Rent<int>(Math.Max(16, 2 * count));
            if (list is not null)
            {
                Array.Copy(list, bigger, count);
                ScratchArrays.Return(list);
            }
            list = bigger;
        }
        if (count > 0 && list[count - 1] > position)
            _unsorted[rank] = true;
        list[count] = position;
        _counts[rank] = count + 1;
    }

    /// <summary>The lowest rank from <paramref name="from"/> on that has positions, or -1.</summary>
    public readonly int Next(int from)
    {
        for (int rank = from; rank < _ranks; rank++)
            if (_counts[rank] > 0)
                return rank;
        return -1;
    }

    /// <summary>The positions of <paramref name="rank"/> in order, handed over until the next call: the bucket is left empty.</summary>
    public ReadOnlySpan<int> Take(int rank)
    {
        ReturnTaken();
        _taken = _positions[rank]!;
        var list = _taken.AsSpan(0, _counts[rank]);
        if (_unsorted[rank])
            list.Sort();
        _positions[rank] = null;
        _counts[rank] = 0;
        _unsorted[rank] = false;
        return list;
    }

    public void Dispose()
    {
        ReturnTaken();
        for (int rank = 0; rank < _ranks; rank++)
            if (_positions[rank] is { } list)
                ScratchArrays.Return(list);
        Array.Clear(_positions, 0, _ranks); // the pool's next user must not keep these alive
        ScratchArrays.Return(_positions);
        ScratchArrays.Return(_counts);
        ScratchArrays.Return(_unsorted);
    }

    private void ReturnTaken()
    {
        if (_taken is not null)
            ScratchArrays.Return(_taken);
        _taken = null;
    }
}
