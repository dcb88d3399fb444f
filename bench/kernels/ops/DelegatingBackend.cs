namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// A backend that hands every primitive to <paramref name="inner"/>: a kernel variant derives from it and
/// overrides only the primitives it replaces, so the bench's cases run it like any backend.
/// </summary>
public abstract class DelegatingBackend(IBackend inner) : IBackend
{
    /// <summary>The backend the primitives this variant does not replace run on.</summary>
    protected IBackend Inner { get; } = inner;

    public virtual Device Device => Inner.Device;
    public virtual Storage Allocate(long bytes) => Inner.Allocate(bytes);
    public virtual void Free(Storage storage) => Inner.Free(storage);
    public virtual void Synchronize() => Inner.Synchronize();
    public virtual void Copy(Tensor dst, Tensor src) => Inner.Copy(dst, src);
    public virtual void Fill(Tensor dst, double value) => Inner.Fill(dst, value);
    public virtual void Random(Tensor dst, RandomKind kind, ulong seed, ulong offset, float a, float b) => Inner.Random(dst, kind, seed, offset, a, b);
    public virtual void Gemm(Tensor c, Tensor a, Tensor b, float alpha = 1f, float beta = 0f) => Inner.Gemm(c, a, b, alpha, beta);
    public virtual void Unary(UnaryOp op, Tensor dst, Tensor src, float alpha = 0f) => Inner.Unary(op, dst, src, alpha);
    public virtual void Binary(BinaryOp op, Tensor dst, Tensor a, Tensor b) => Inner.Binary(op, dst, a, b);
    public virtual void Reduce(ReduceOp op, Tensor dst, Tensor src) => Inner.Reduce(op, dst, src);
    public virtual void Softmax(Tensor y, Tensor x) => Inner.Softmax(y, x);
    public virtual void SoftmaxBackward(Tensor dx, Tensor y, Tensor dy) => Inner.SoftmaxBackward(dx, y, dy);
    public virtual void RmsNorm(Tensor y, Tensor rstd, Tensor x, Tensor weight, float eps) => Inner.RmsNorm(y, rstd, x, weight, eps);
    public virtual void RmsNormBackward(Tensor dx, Tensor? dweight, Tensor dy, Tensor x, Tensor weight, Tensor rstd) => Inner.RmsNormBackward(dx, dweight, dy, x, weight, rstd);
    public virtual void Rope(Tensor y, Tensor x, Tensor cos, Tensor sin, Tensor positions, bool inverse) => Inner.Rope(y, x, cos, sin, positions, inverse);
    public virtual void SwiGlu(Tensor y, Tensor gate, Tensor up) => Inner.SwiGlu(y, gate, up);
    public virtual void SwiGluBackward(Tensor dgate, Tensor dup, Tensor dy, Tensor gate, Tensor up) => Inner.SwiGluBackward(dgate, dup, dy, gate, up);
    public virtual void EmbeddingGather(Tensor y, Tensor weight, Tensor ids) => Inner.EmbeddingGather(y, weight, ids);
    public virtual void EmbeddingScatterAdd(Tensor dweight, Tensor dy, Tensor ids) => Inner.EmbeddingScatterAdd(dweight, dy, ids);
    public virtual void CrossEntropy(Tensor lse, Tensor targetLogit, Tensor logits, Tensor targets, int vocabStart) => Inner.CrossEntropy(lse, targetLogit, logits, targets, vocabStart);
    public virtual void CrossEntropyBackward(Tensor dlogits, Tensor dloss, Tensor logits, Tensor lse, Tensor targets, int vocabStart)
        => Inner.CrossEntropyBackward(dlogits, dloss, logits, lse, targets, vocabStart);
    public virtual void AttentionForward(Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v, AttentionSpec spec) => Inner.AttentionForward(o, lse, q, k, v, spec);
    public virtual void AttentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, AttentionSpec spec, Tensor? dlse = null)
        => Inner.AttentionBackward(dq, dk, dv, dout, q, k, v, o, lse, spec, dlse);
    public virtual void AttentionMerge(Tensor o, Tensor lse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB) => Inner.AttentionMerge(o, lse, oA, lseA, oB, lseB);
    public virtual void AttentionMergeBackward(Tensor doA, Tensor dlseA, Tensor doB, Tensor dlseB, Tensor dout, Tensor? dlse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB, Tensor o, Tensor lse)
        => Inner.AttentionMergeBackward(doA, dlseA, doB, dlseB, dout, dlse, oA, lseA, oB, lseB, o, lse);
    public virtual void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step) => Inner.AdamW(param, grad, m, v, step);
}
