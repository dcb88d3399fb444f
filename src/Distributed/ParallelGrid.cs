using RawLongLoRA.Model;

namespace RawLongLoRA.Distributed;

/// <summary>
/// The world's ranks as a DP × SP grid: groups of <see cref="SpSize"/> consecutive ranks share rows by sequence
/// parallelism (the SP group: colour rank / K), and the ranks at the same place in every SP group share the batch by
/// data parallelism (the DP group: colour rank % K). Consecutive ranks for SP keep its heavier traffic (every layer,
/// forward and backward) between neighbours, which on a multi-GPU node are the ones on the same NVLink island.
/// </summary>
public sealed class ParallelGrid : IDisposable
{
    /// <summary>
    /// Splits <paramref name="world"/> (which the grid uses, not owns) into SP groups of <paramref name="spSize"/> and
    /// DP groups across them; every rank of the world must call it. The world's size must be a multiple of spSize.
    /// </summary>
    public ParallelGrid(ICommunicator world, int spSize)
    {
        ArgumentNullException.ThrowIfNull(world);
        if (spSize < 1 || world.Size % spSize != 0)
            throw new ArgumentException($"parallel grid: the world's {world.Size} ranks cannot be cut into sequence-parallel groups of {spSize} (sp-size); it must be at least 1 and divide the number of ranks", nameof(spSize));
        World = world;
        Sp = world.Split(world.Rank / spSize, world.Rank);
        try
        {
            Dp = world.Split(world.Rank % spSize, world.Rank);
        }
        catch
        {
            Sp.Dispose();
            throw;
        }
    }

    /// <summary>Every rank of the run.</summary>
    public ICommunicator World { get; }

    /// <summary>The ranks that share this rank's rows (sequence parallel).</summary>
    public ICommunicator Sp { get; }

    /// <summary>The ranks that hold the same shard of other rows (data parallel).</summary>
    public ICommunicator Dp { get; }

    /// <summary>Ranks per sequence-parallel group.</summary>
    public int SpSize => Sp.Size;

    /// <summary>This rank's place in its sequence-parallel group: which shard of each row it holds.</summary>
    public int SpRank => Sp.Rank;

    /// <summary>Sequence-parallel groups, that is ranks per data-parallel group.</summary>
    public int DpSize => Dp.Size;

    /// <summary>This rank's place in its data-parallel group: which rows of the global batch it holds.</summary>
    public int DpRank => Dp.Rank;

    /// <summary>
    /// The attention strategy of <paramref name="kind"/> on the SP group (Ring with <paramref name="zigZag"/> blocks),
    /// or null for <see cref="SequenceParallel.None"/> (the model keeps its own).
    /// </summary>
    public IAttention? Strategy(SequenceParallel kind, bool zigZag) => kind switch
    {
        SequenceParallel.None => null,
        SequenceParallel.Ulysses => new UlyssesAttention(Sp),
        SequenceParallel.Ring => new RingAttention(Sp, zigZag),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "parallel grid: unknown sequence-parallel kind"),
    };

    /// <summary>
    /// How a row's positions are shared in the SP group under <paramref name="kind"/>: Ulysses takes plain blocks,
    /// Ring plain or zig-zag ones; null without sequence parallelism (every rank holds whole rows).
    /// </summary>
    public SequenceShards? Shards(SequenceParallel kind, bool zigZag, int rowLength)
        => kind == SequenceParallel.None ? null : new SequenceShards(rowLength, SpSize, kind == SequenceParallel.Ring && zigZag);

    /// <summary>Frees the two sub-groups (the world stays its owner's).</summary>
    public void Dispose()
    {
        Sp.Dispose();
        Dp.Dispose();
    }
}
