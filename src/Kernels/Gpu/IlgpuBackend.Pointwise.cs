namespace RawLongLoRA.Kernels.Gpu;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public void Random(Tensor dst, RandomKind kind, ulong seed, ulong offset, float a, float b) => throw NotYet("Random");

    /// <inheritdoc/>
    public void Unary(UnaryOp op, Tensor dst, Tensor src, float alpha = 0f) => throw NotYet("Unary");

    /// <inheritdoc/>
    public void Binary(BinaryOp op, Tensor dst, Tensor a, Tensor b) => throw NotYet("Binary");

    /// <inheritdoc/>
    public void Reduce(ReduceOp op, Tensor dst, Tensor src) => throw NotYet("Reduce");

    /// <inheritdoc/>
    public void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step) => throw NotYet("AdamW");
}
