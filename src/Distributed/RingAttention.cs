using RawLongLoRA.Model;

namespace RawLongLoRA.Distributed;

/// <summary>Ring sequence parallelism (being built: issue 14).</summary>
public sealed class RingAttention(ICommunicator group, bool zigZag) : IAttention
{
    /// <summary>The sequence-parallel group.</summary>
    public ICommunicator Group { get; } = group;

    /// <summary>Whether rank r holds blocks r and 2·Size − 1 − r of each row.</summary>
    public bool ZigZag { get; } = zigZag;

    /// <inheritdoc/>
    public Tensor Forward(Tensor q, Tensor k, Tensor v, AttentionSpec spec) => throw new NotImplementedException("Ring attention: being built");
}
