namespace RawLongLoRA.Kernels.Gpu;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public void AttentionForward(Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v, AttentionSpec spec) => throw NotYet("AttentionForward");

    /// <inheritdoc/>
    public void AttentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, AttentionSpec spec, Tensor? dlse = null) => throw NotYet("AttentionBackward");

    /// <inheritdoc/>
    public void AttentionMerge(Tensor o, Tensor lse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB)
        => AttentionMergeCall.Forward(this, o, lse, oA, lseA, oB, lseB);

    /// <inheritdoc/>
    public void AttentionMergeBackward(Tensor doA, Tensor dlseA, Tensor doB, Tensor dlseB, Tensor dout, Tensor? dlse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB, Tensor o, Tensor lse)
        => AttentionMergeCall.Backward(this, doA, dlseA, doB, dlseB, dout, dlse, oA, lseA, oB, lseB, o, lse);
}
