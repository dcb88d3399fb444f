namespace RawLongLoRA.Distributed;

/// <summary>How the ranks of a sequence-parallel group share a row's attention.</summary>
public enum SequenceParallel : byte
{
    /// <summary>No sequence parallelism: every rank holds whole rows.</summary>
    None,

    /// <summary>Ulysses: all-to-all from sequence shards to head shards around attention (<see cref="UlyssesAttention"/>).</summary>
    Ulysses,

    /// <summary>Ring: query blocks stay, key/value blocks travel around the group (<see cref="RingAttention"/>).</summary>
    Ring,
}
