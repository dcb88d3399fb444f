namespace RawLongLoRA.Model;

/// <summary>
/// How the <see cref="Length"/> positions of a row are shared among <see cref="Ranks"/> ranks for sequence
/// parallelism. Plain: the row is cut into Ranks blocks and rank r holds block r. Zig-zag: it is cut into 2 · Ranks
/// blocks and rank r holds blocks r and 2 · Ranks − 1 − r, so that under a causal mask every rank does the same work.
/// Block b covers positions [⌊b·Length/Blocks⌋, ⌊(b+1)·Length/Blocks⌋): lengths that do not divide evenly give
/// blocks that differ by one position. A rank's tokens are its blocks' positions in ascending order.
/// </summary>
public sealed record SequenceShards
{
    /// <summary>Shares a row of <paramref name="length"/> positions among <paramref name="ranks"/> ranks.</summary>
    public SequenceShards(int length, int ranks, bool zigZag)
    {
        if (ranks < 1)
            throw new ArgumentOutOfRangeException(nameof(ranks), $"sequence shards: ranks must be at least 1, got {ranks}");
        int blocks = zigZag ? 2 * ranks : ranks;
        if (length < blocks)
            throw new ArgumentOutOfRangeException(nameof(length),
                $"sequence shards: a row of {length} positions cannot be cut into {blocks} blocks ({ranks} ranks{(zigZag ? ", zig-zag" : "")}); it needs at least one position per block");
        (Length, Ranks, ZigZag) = (length, ranks, zigZag);
    }

    /// <summary>Positions in a whole row.</summary>
    public int Length { get; }

    /// <summary>Ranks sharing the row.</summary>
    public int Ranks { get; }

    /// <summary>Whether each rank holds two blocks, r and 2 · Ranks − 1 − r.</summary>
    public bool ZigZag { get; }

    /// <summary>Blocks the row is cut into: Ranks, or 2 · Ranks with zig-zag.</summary>
    public int Blocks => ZigZag ? 2 * Ranks : Ranks;

    /// <summary>Block <paramref name="block"/>'s first position and length.</summary>
    public (int Start, int Length) Block(int block)
    {
        int from = (int)((long)block * Length / Blocks), to = (int)((long)(block + 1) * Length / Blocks);
        return (from, to - from);
    }

    /// <summary>The blocks <paramref name="rank"/> holds, in ascending order.</summary>
    public int[] BlocksOf(int rank) => ZigZag ? [rank, Blocks - 1 - rank] : [rank];

    /// <summary>Positions <paramref name="rank"/> holds.</summary>
    public int LocalLength(int rank) => BlocksOf(rank).Sum(b => Block(b).Length);

    /// <summary>The row position of each of <paramref name="rank"/>'s tokens, in order.</summary>
    public int[] PositionsOf(int rank)
        => BlocksOf(rank).SelectMany(b => Enumerable.Range(Block(b).Start, Block(b).Length)).ToArray();

    /// <summary>
    /// <paramref name="rank"/>'s tokens of a row-major [rows, Length] array, as a row-major [rows, LocalLength] array.
    /// </summary>
    public T[] Take<T>(T[] rows, int rank)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Length % Length != 0)
            throw new ArgumentException($"sequence shards: {rows.Length} values are not whole rows of {Length}", nameof(rows));
        var positions = PositionsOf(rank);
        int count = rows.Length / Length;
        var taken = new T[count * positions.Length];
        for (int r = 0; r < count; r++)
            for (int i = 0; i < positions.Length; i++)
                taken[r * positions.Length + i] = rows[r * Length + positions[i]];
        return taken;
    }
}
