using RawLongLoRA.Model;

namespace RawLongLoRA.Distributed;

/// <summary>Ulysses sequence parallelism (being built: issue 14).</summary>
public sealed class UlyssesAttention(ICommunicator group) : IAttention
{
    /// <summary>The sequence-parallel group.</summary>
    public ICommunicator Group { get; } = group;

    /// <inheritdoc/>
    public Tensor Forward(Tensor q, Tensor k, Tensor v, AttentionSpec spec) => throw new NotImplementedException("Ulysses attention: being built");
}
