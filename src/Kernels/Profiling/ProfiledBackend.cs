using RawLongLoRA.Kernels.Cuda;
using RawLongLoRA.Kernels.Gpu;
using RawLongLoRA.Profiling;

namespace RawLongLoRA.Kernels.Profiling;

/// <summary>
/// A backend that records each primitive of the one it wraps as a Kernel event (its shapes, FLOPs and
/// bytes) and each allocation as an "[alloc]" event; <see cref="Backends.Get"/> hands it out only
/// while the profiler records. Host-side timing: right for the CPU, whose calls return when the work
/// is done, and for ILGPU's CPU accelerator; on CUDA a kernel's times come from CUDA events recorded on
/// the backend's stream around it (<see cref="CudaTimeline"/>), and every range is also an NVTX range.
/// </summary>
internal sealed class ProfiledBackend(IBackend inner) : IBackend, ILoraSidePath
{
    private readonly string _prefix = inner.Device.Type.ToString().ToLowerInvariant() + "::";
    private readonly Dictionary<string, string> _names = [];
    private readonly CudaTimeline? _gpu = inner is IlgpuBackend { IsCuda: true } g ? new CudaTimeline(g) : null;

    public Device Device => inner.Device;

    /// <summary>Whether kernel times come from the device's own events (CUDA) rather than the host's clock.</summary>
    internal bool TimesOnDevice => _gpu is not null;

    private CudaTimeline.Range Kernel(string primitive, double? flops, long bytes, params ReadOnlySpan<Tensor?> tensors)
    {
        string name;
        lock (_names)
        {
            if (!_names.TryGetValue(primitive, out name!))
                _names[primitive] = name = _prefix + primitive;
        }
        var host = Profiler.Kernel(name, Device, tensors, flops, bytes);
        return _gpu?.Begin(host) ?? new CudaTimeline.Range(host, null, null, 0);
    }

    private static long Bytes(params ReadOnlySpan<Tensor?> tensors) => KernelCost.Bytes(tensors);

    public Storage Allocate(long bytes)
    {
        using (Profiler.Allocation(Device, bytes))
            return inner.Allocate(bytes);
    }

    /// <summary>Not a kernel: the profiler times frees as "[free]" events around this call.</summary>
    public void Free(Storage storage) => inner.Free(storage);

    public void Synchronize()
    {
        using (Kernel("synchronize", null, 0))
            inner.Synchronize();
        _gpu?.Resolve();
    }

    public void Copy(Tensor dst, Tensor src)
    {
        using (Kernel("copy", null, Bytes(dst, src), dst, src))
            inner.Copy(dst, src);
    }

    public void Fill(Tensor dst, double value)
    {
        using (Kernel("fill", null, Bytes(dst), dst))
            inner.Fill(dst, value);
    }

    public void Random(Tensor dst, RandomKind kind, ulong seed, ulong offset, float a, float b)
    {
        using (Kernel("random", null, Bytes(dst), dst))
            inner.Random(dst, kind, seed, offset, a, b);
    }

    public void Gemm(Tensor c, Tensor a, Tensor b, float alpha = 1, float beta = 0)
    {
        using (Kernel("gemm", KernelCost.GemmFlops(c, a), Bytes(a, b, c) + (beta == 0 ? 0 : Bytes(c)), c, a, b))
            inner.Gemm(c, a, b, alpha, beta);
    }

    public void Unary(UnaryOp op, Tensor dst, Tensor src, float alpha = 0)
    {
        using (Kernel("unary", dst.Numel, Bytes(dst, src), dst, src))
            inner.Unary(op, dst, src, alpha);
    }

    public void Binary(BinaryOp op, Tensor dst, Tensor a, Tensor b)
    {
        using (Kernel("binary", dst.Numel, Bytes(dst, a, b), dst, a, b))
            inner.Binary(op, dst, a, b);
    }

    public void Reduce(ReduceOp op, Tensor dst, Tensor src)
    {
        using (Kernel("reduce", src.Numel, Bytes(dst, src), dst, src))
            inner.Reduce(op, dst, src);
    }

    public void Softmax(Tensor y, Tensor x)
    {
        using (Kernel("softmax", null, Bytes(y, x), y, x))
            inner.Softmax(y, x);
    }

    public void SoftmaxBackward(Tensor dx, Tensor y, Tensor dy)
    {
        using (Kernel("softmax_backward", null, Bytes(dx, y, dy), dx, y, dy))
            inner.SoftmaxBackward(dx, y, dy);
    }

    public void RmsNorm(Tensor y, Tensor rstd, Tensor x, Tensor weight, float eps)
    {
        using (Kernel("rms_norm", null, Bytes(y, rstd, x, weight), y, x, weight))
            inner.RmsNorm(y, rstd, x, weight, eps);
    }

    public void RmsNormBackward(Tensor dx, Tensor? dweight, Tensor dy, Tensor x, Tensor weight, Tensor rstd)
    {
        using (Kernel("rms_norm_backward", null, Bytes(dx, dweight, dy, x, weight, rstd), dx, dy, x, weight))
            inner.RmsNormBackward(dx, dweight, dy, x, weight, rstd);
    }

    public void Rope(Tensor y, Tensor x, Tensor cos, Tensor sin, Tensor positions, bool inverse)
    {
        using (Kernel(inverse ? "rope_backward" : "rope", null, Bytes(y, x, positions), y, x, cos, sin, positions))
            inner.Rope(y, x, cos, sin, positions, inverse);
    }

    public void SwiGlu(Tensor y, Tensor gate, Tensor up)
    {
        using (Kernel("swiglu", null, Bytes(y, gate, up), y, gate, up))
            inner.SwiGlu(y, gate, up);
    }

    public void SwiGluBackward(Tensor dgate, Tensor dup, Tensor dy, Tensor gate, Tensor up)
    {
        using (Kernel("swiglu_backward", null, Bytes(dgate, dup, dy, gate, up), dgate, dup, dy, gate, up))
            inner.SwiGluBackward(dgate, dup, dy, gate, up);
    }

    // A gather reads as many rows of the table as it writes; a scatter-add reads and writes them.
    public void EmbeddingGather(Tensor y, Tensor weight, Tensor ids)
    {
        using (Kernel("embedding", null, 2 * Bytes(y) + Bytes(ids), y, weight, ids))
            inner.EmbeddingGather(y, weight, ids);
    }

    public void EmbeddingScatterAdd(Tensor dweight, Tensor dy, Tensor ids)
    {
        using (Kernel("embedding_backward", null, 3 * Bytes(dy) + Bytes(ids), dweight, dy, ids))
            inner.EmbeddingScatterAdd(dweight, dy, ids);
    }

    public void CrossEntropy(Tensor lse, Tensor targetLogit, Tensor logits, Tensor targets, int vocabStart)
    {
        using (Kernel("cross_entropy", null, Bytes(lse, targetLogit, logits, targets), logits, targets))
            inner.CrossEntropy(lse, targetLogit, logits, targets, vocabStart);
    }

    public void CrossEntropyBackward(Tensor dlogits, Tensor dloss, Tensor logits, Tensor lse, Tensor targets, int vocabStart)
    {
        using (Kernel("cross_entropy_backward", null, Bytes(dlogits, dloss, logits, lse, targets), dlogits, logits, targets))
            inner.CrossEntropyBackward(dlogits, dloss, logits, lse, targets, vocabStart);
    }

    public void AttentionForward(Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v, AttentionSpec spec)
    {
        using (Kernel("attention", KernelCost.AttentionFlops(q, k, spec), Bytes(o, lse, q, k, v), q, k, v))
            inner.AttentionForward(o, lse, q, k, v, spec);
    }

    public void AttentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, AttentionSpec spec, Tensor? dlse = null)
    {
        using (Kernel("attention_backward", 2.5 * KernelCost.AttentionFlops(q, k, spec), Bytes(dq, dk, dv, dout, q, k, v, o, lse, dlse), dout, q, k, v))
            inner.AttentionBackward(dq, dk, dv, dout, q, k, v, o, lse, spec, dlse);
    }

    public void AttentionMerge(Tensor o, Tensor lse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB)
    {
        using (Kernel("attention_merge", null, Bytes(o, lse, oA, lseA, oB, lseB), oA, oB))
            inner.AttentionMerge(o, lse, oA, lseA, oB, lseB);
    }

    public void AttentionMergeBackward(Tensor doA, Tensor dlseA, Tensor doB, Tensor dlseB, Tensor dout, Tensor? dlse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB, Tensor o, Tensor lse)
    {
        using (Kernel("attention_merge_backward", null, Bytes(doA, dlseA, doB, dlseB, dout, dlse, oA, lseA, oB, lseB, o, lse), dout, oA, oB))
            inner.AttentionMergeBackward(doA, dlseA, doB, dlseB, dout, dlse, oA, lseA, oB, lseB, o, lse);
    }

    // Reads param, grad, m and v; writes param, m and v.
    public void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step)
    {
        using (Kernel("adamw", null, Bytes(param, grad, m, v) + Bytes(param, m, v), param, grad, m, v))
            inner.AdamW(param, grad, m, v, step);
    }

    // The LoRA side path of a backend that has one (CUDA's kernels.cu/lora.cu), recorded as kernels: without it here,
    // a profiled run would time the composed GEMMs instead of what an unprofiled run does.
    public bool Covers(Tensor x, Tensor loraA, Tensor loraB) => inner is ILoraSidePath side && side.Covers(x, loraA, loraB);

    public Tensor Forward(Tensor y, Tensor x, Tensor loraA, Tensor loraB, float scale)
    {
        using (Kernel("lora_side_path", 2.0 * x.Shape[0] * loraA.Shape[0] * (x.Shape[1] + y.Shape[1]), Bytes(y, x, loraA, loraB), x, loraA, loraB))
            return ((ILoraSidePath)inner).Forward(y, x, loraA, loraB, scale);
    }

    public void Backward(Tensor? dx, Tensor dA, Tensor dB, Tensor dy, Tensor x, Tensor saved, Tensor loraA, Tensor loraB, float scale)
    {
        using (Kernel("lora_side_path_backward", 4.0 * x.Shape[0] * loraA.Shape[0] * (x.Shape[1] + dy.Shape[1]), Bytes(dx, dA, dB, dy, x, saved, loraA, loraB), dy, x, loraA, loraB))
            ((ILoraSidePath)inner).Backward(dx, dA, dB, dy, x, saved, loraA, loraB, scale);
    }
}
