namespace RawLongLoRA.Model;

/// <summary>Attention in one kernel call over this process's whole rows: the default strategy.</summary>
public sealed class LocalAttention : IAttention
{
    private LocalAttention()
    {
    }

    /// <summary>The one instance: the strategy holds no state.</summary>
    public static LocalAttention Instance { get; } = new();

    /// <inheritdoc/>
    public Tensor Forward(Tensor q, Tensor k, Tensor v, AttentionSpec spec) => q.Attention(k, v, spec);
}
