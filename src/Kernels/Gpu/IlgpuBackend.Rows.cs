namespace RawLongLoRA.Kernels.Gpu;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public void Softmax(Tensor y, Tensor x) => throw NotYet("Softmax");

    /// <inheritdoc/>
    public void SoftmaxBackward(Tensor dx, Tensor y, Tensor dy) => throw NotYet("SoftmaxBackward");

    /// <inheritdoc/>
    public void RmsNorm(Tensor y, Tensor rstd, Tensor x, Tensor weight, float eps) => throw NotYet("RmsNorm");

    /// <inheritdoc/>
    public void RmsNormBackward(Tensor dx, Tensor? dweight, Tensor dy, Tensor x, Tensor weight, Tensor rstd) => throw NotYet("RmsNormBackward");

    /// <inheritdoc/>
    public void Rope(Tensor y, Tensor x, Tensor cos, Tensor sin, Tensor positions, bool inverse) => throw NotYet("Rope");

    /// <inheritdoc/>
    public void SwiGlu(Tensor y, Tensor gate, Tensor up) => throw NotYet("SwiGlu");

    /// <inheritdoc/>
    public void SwiGluBackward(Tensor dgate, Tensor dup, Tensor dy, Tensor gate, Tensor up) => throw NotYet("SwiGluBackward");

    /// <inheritdoc/>
    public void EmbeddingGather(Tensor y, Tensor weight, Tensor ids) => throw NotYet("EmbeddingGather");

    /// <inheritdoc/>
    public void EmbeddingScatterAdd(Tensor dweight, Tensor dy, Tensor ids) => throw NotYet("EmbeddingScatterAdd");

    /// <inheritdoc/>
    public void CrossEntropy(Tensor lse, Tensor targetLogit, Tensor logits, Tensor targets, int vocabStart) => throw NotYet("CrossEntropy");

    /// <inheritdoc/>
    public void CrossEntropyBackward(Tensor dlogits, Tensor dloss, Tensor logits, Tensor lse, Tensor targets, int vocabStart) => throw NotYet("CrossEntropyBackward");
}
