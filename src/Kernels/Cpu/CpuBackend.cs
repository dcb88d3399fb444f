using System.Runtime.CompilerServices;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>The CPU backend: each primitive of <see cref="IBackend"/> is a kernel class in this folder.</summary>
public sealed class CpuBackend : IBackend
{
    /// <summary>The one CPU backend; <see cref="Device.Backend"/> of <see cref="Device.Cpu"/> returns it.</summary>
    public static readonly CpuBackend Instance = new();

    private CpuBackend()
    {
    }

    // Backends.Get loads this assembly and runs its module initializer: the Tensor layer cannot
    // reference the backends above it, so the CPU backend registers itself, and the profiler's wrapper.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register()
    {
        Backends.Register(DeviceType.Cpu, _ => Instance);
        Backends.RegisterProfiling(b => new Profiling.ProfiledBackend(b));
    }

    /// <inheritdoc/>
    public Device Device => Device.Cpu;

    /// <inheritdoc/>
    public Storage Allocate(long bytes) => new HostStorage(bytes);

    /// <inheritdoc/>
    public void Free(Storage storage)
    {
        if (!storage.Device.IsCpu)
            throw new ArgumentException($"free: the CPU backend cannot free a storage on {storage.Device}", nameof(storage));
        if (!storage.IsFreed)
            throw new InvalidOperationException($"free: the storage still has {storage.RefCount} reference(s); its last Release frees it");
        storage.Free();
    }

    /// <inheritdoc/>
    public void Synchronize()
    {
    }

    /// <inheritdoc/>
    public void Copy(Tensor dst, Tensor src)
    {
        Check.Alive("copy", dst, src);
        if (!dst.Device.IsCpu || !src.Device.IsCpu)
            throw Check.Fail("copy", "the CPU backend copies between host tensors only", dst, src);
        Cpu.Copy.Run(dst, src);
    }

    /// <inheritdoc/>
    public void Fill(Tensor dst, double value)
    {
        Check.Alive("fill", dst);
        Cpu.Copy.Fill(dst, value);
    }

    /// <inheritdoc/>
    public void Random(Tensor dst, RandomKind kind, ulong seed, ulong offset, float a, float b) => RandomFill.Run(dst, kind, seed, offset, a, b);

    /// <inheritdoc/>
    public void Gemm(Tensor c, Tensor a, Tensor b, float alpha = 1f, float beta = 0f) => GemmCall.Run(c, a, b, alpha, beta);

    /// <inheritdoc/>
    public void Unary(UnaryOp op, Tensor dst, Tensor src, float alpha = 0f) => Elementwise.Unary(op, dst, src, alpha);

    /// <inheritdoc/>
    public void Binary(BinaryOp op, Tensor dst, Tensor a, Tensor b) => Elementwise.Binary(op, dst, a, b);

    /// <inheritdoc/>
    public void Reduce(ReduceOp op, Tensor dst, Tensor src) => Cpu.Reduce.Run(op, dst, src);

    /// <inheritdoc/>
    public void Softmax(Tensor y, Tensor x) => Cpu.Softmax.Forward(y, x);

    /// <inheritdoc/>
    public void SoftmaxBackward(Tensor dx, Tensor y, Tensor dy) => Cpu.Softmax.Backward(dx, y, dy);

    /// <inheritdoc/>
    public void RmsNorm(Tensor y, Tensor rstd, Tensor x, Tensor weight, float eps) => Cpu.RmsNorm.Forward(y, rstd, x, weight, eps);

    /// <inheritdoc/>
    public void RmsNormBackward(Tensor dx, Tensor? dweight, Tensor dy, Tensor x, Tensor weight, Tensor rstd) => Cpu.RmsNorm.Backward(dx, dweight, dy, x, weight, rstd);

    /// <inheritdoc/>
    public void Rope(Tensor y, Tensor x, Tensor cos, Tensor sin, Tensor positions, bool inverse) => Cpu.Rope.Run(y, x, cos, sin, positions, inverse);

    /// <inheritdoc/>
    public void SwiGlu(Tensor y, Tensor gate, Tensor up) => Cpu.SwiGlu.Forward(y, gate, up);

    /// <inheritdoc/>
    public void SwiGluBackward(Tensor dgate, Tensor dup, Tensor dy, Tensor gate, Tensor up) => Cpu.SwiGlu.Backward(dgate, dup, dy, gate, up);

    /// <inheritdoc/>
    public void EmbeddingGather(Tensor y, Tensor weight, Tensor ids) => Embedding.Gather(y, weight, ids);

    /// <inheritdoc/>
    public void EmbeddingScatterAdd(Tensor dweight, Tensor dy, Tensor ids) => Embedding.ScatterAdd(dweight, dy, ids);

    /// <inheritdoc/>
    public void CrossEntropy(Tensor lse, Tensor targetLogit, Tensor logits, Tensor targets, int vocabStart) => Cpu.CrossEntropy.Forward(lse, targetLogit, logits, targets, vocabStart);

    /// <inheritdoc/>
    public void CrossEntropyBackward(Tensor dlogits, Tensor dloss, Tensor logits, Tensor lse, Tensor targets, int vocabStart)
        => Cpu.CrossEntropy.Backward(dlogits, dloss, logits, lse, targets, vocabStart);

    /// <inheritdoc/>
    public void AttentionForward(Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v, AttentionSpec spec) => AttentionCall.Forward(o, lse, q, k, v, spec);

    /// <inheritdoc/>
    public void AttentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, AttentionSpec spec, Tensor? dlse = null)
        => AttentionCall.Backward(dq, dk, dv, dout, q, k, v, o, lse, spec, dlse);

    /// <inheritdoc/>
    public void AttentionMerge(Tensor o, Tensor lse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB) => AttentionCall.Merge(o, lse, oA, lseA, oB, lseB);

    /// <inheritdoc/>
    public void AttentionMergeBackward(Tensor doA, Tensor dlseA, Tensor doB, Tensor dlseB, Tensor dout, Tensor? dlse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB, Tensor o, Tensor lse)
        => AttentionCall.MergeBackward(doA, dlseA, doB, dlseB, dout, dlse, oA, lseA, oB, lseB, o, lse);

    /// <inheritdoc/>
    public void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step) => Cpu.AdamW.Step(param, grad, m, v, step);
}
