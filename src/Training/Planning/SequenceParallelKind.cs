namespace RawLongLoRA.Training;

/// <summary>How sequence-parallel ranks attend across their shards of a row.</summary>
public enum SequenceParallelKind : byte
{
    /// <summary>K and V blocks travel around a ring of ranks; each rank keeps its queries (any number of ranks).</summary>
    Ring,

    /// <summary>All-to-alls trade sequence shards for head shards around attention (heads divisible by the ranks).</summary>
    Ulysses,
}
