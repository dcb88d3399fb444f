using System.Collections.Concurrent;
using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Tests;

/// <summary>
/// A test device as a GPU would be to the engine: its memory has no host address (no spans, no pointers: only
/// <see cref="IBackend.Copy"/> crosses), its ops run by the CPU backend on host blocks kept behind the storage, and
/// every crossing is counted. Each <see cref="New"/> is a device of its own (its own counters), so tests can run
/// side by side.
/// </summary>
internal static class StrictDevice
{
    private static readonly ConcurrentDictionary<int, StrictBackend> Made = new();
    private static int _next;

    static StrictDevice() => Backends.Register(DeviceType.PrivateUse1, i => Made.GetOrAdd(i, _ => new StrictBackend(Device.PrivateUse1(i))));

    /// <summary>A fresh strict device and its backend (counters at 0; the profiler may hand out a wrapper of it).</summary>
    public static (Device Device, StrictBackend Backend) New()
    {
        var device = Device.PrivateUse1(Interlocked.Increment(ref _next));
        _ = Backends.Get(device);
        return (device, Made[device.Index]);
    }
}

/// <summary>
/// Strict-device memory: a host block no one outside <see cref="StrictBackend"/> can reach. Storage's counters see
/// its bytes twice, on this device and (the block) on the cpu.
/// </summary>
internal sealed class StrictStorage : Storage
{
    public StrictStorage(Device device, long bytes) : base(device, bytes)
    {
        Block = new HostStorage(bytes);
        Block.Retain();
    }

    /// <summary>The host memory behind it, for the backend's kernels only.</summary>
    public HostStorage Block { get; }

    public override nint Handle => throw new InvalidOperationException($"{Device}: device memory has no host address; copy it to the cpu");

    protected internal override void Free() => Block.Release();
}

/// <summary>
/// The strict device's backend: each primitive checks that every tensor is on this device (a host tensor handed to a
/// device kernel is a bug a GPU would crash on), then runs the CPU kernel on host views of the blocks. Copies to and
/// from the host are the only crossings, and are counted.
/// </summary>
internal sealed class StrictBackend(Device device) : IBackend
{
    private static readonly IBackend Cpu = CpuBackend.Instance;
    private long _toDevice, _toHost, _syncs, _packed;

    public Device Device { get; } = device;

    public void Free(Storage storage)
    {
        if (storage.Device != Device)
            throw new ArgumentException($"free: {Device} cannot free a storage on {storage.Device}", nameof(storage));
        storage.Free();
    }

    /// <summary>Host → device copies since the last <see cref="ResetCounts"/>.</summary>
    public long HostToDevice => Interlocked.Read(ref _toDevice);

    /// <summary>Device → host copies: each is a read that waits for the device.</summary>
    public long DeviceToHost => Interlocked.Read(ref _toHost);

    /// <summary>Explicit <see cref="Synchronize"/> calls.</summary>
    public long Synchronizations => Interlocked.Read(ref _syncs);

    /// <summary>Attention forwards whose packed starts hold more sequences than rows (every row start is one): some row packs several.</summary>
    public long PackedAttentionCalls => Interlocked.Read(ref _packed);

    public void ResetCounts()
    {
        Interlocked.Exchange(ref _toDevice, 0);
        Interlocked.Exchange(ref _toHost, 0);
        Interlocked.Exchange(ref _syncs, 0);
        Interlocked.Exchange(ref _packed, 0);
    }

    public Storage Allocate(long bytes) => new StrictStorage(Device, bytes);

    public void Synchronize() => Interlocked.Increment(ref _syncs);

    public void Copy(Tensor dst, Tensor src)
    {
        bool toHere = dst.Device == Device, fromHere = src.Device == Device;
        if (!(toHere && (fromHere || src.Device.IsCpu) || fromHere && dst.Device.IsCpu))
            throw Check.Fail("copy", $"{Device} copies within itself and to and from the cpu only", dst, src);
        if (toHere && !fromHere)
            Interlocked.Increment(ref _toDevice);
        if (fromHere && !toHere)
            Interlocked.Increment(ref _toHost);
        using var d = Host(dst);
        using var s = Host(src);
        Cpu.Copy(d, s);
    }

    public void Fill(Tensor dst, double value) => Run("fill", [dst], t => Cpu.Fill(t[0], value));

    public void Random(Tensor dst, RandomKind kind, ulong seed, ulong offset, float a, float b)
        => Run("random", [dst], t => Cpu.Random(t[0], kind, seed, offset, a, b));

    public void Gemm(Tensor c, Tensor a, Tensor b, float alpha = 1, float beta = 0) => Run("gemm", [c, a, b], t => Cpu.Gemm(t[0], t[1], t[2], alpha, beta));

    public void Unary(UnaryOp op, Tensor dst, Tensor src, float alpha = 0) => Run("unary", [dst, src], t => Cpu.Unary(op, t[0], t[1], alpha));

    public void Binary(BinaryOp op, Tensor dst, Tensor a, Tensor b) => Run("binary", [dst, a, b], t => Cpu.Binary(op, t[0], t[1], t[2]));

    public void Reduce(ReduceOp op, Tensor dst, Tensor src) => Run("reduce", [dst, src], t => Cpu.Reduce(op, t[0], t[1]));

    public void Softmax(Tensor y, Tensor x) => Run("softmax", [y, x], t => Cpu.Softmax(t[0], t[1]));

    public void SoftmaxBackward(Tensor dx, Tensor y, Tensor dy) => Run("softmax_backward", [dx, y, dy], t => Cpu.SoftmaxBackward(t[0], t[1], t[2]));

    public void RmsNorm(Tensor y, Tensor rstd, Tensor x, Tensor weight, float eps)
        => Run("rms_norm", [y, rstd, x, weight], t => Cpu.RmsNorm(t[0], t[1], t[2], t[3], eps));

    public void RmsNormBackward(Tensor dx, Tensor? dweight, Tensor dy, Tensor x, Tensor weight, Tensor rstd)
        => Run("rms_norm_backward", [dx, dweight, dy, x, weight, rstd], t => Cpu.RmsNormBackward(t[0]!, t[1], t[2]!, t[3]!, t[4]!, t[5]!));

    public void Rope(Tensor y, Tensor x, Tensor cos, Tensor sin, Tensor positions, bool inverse)
        => Run("rope", [y, x, cos, sin, positions], t => Cpu.Rope(t[0], t[1], t[2], t[3], t[4], inverse));

    public void SwiGlu(Tensor y, Tensor gate, Tensor up) => Run("swiglu", [y, gate, up], t => Cpu.SwiGlu(t[0], t[1], t[2]));

    public void SwiGluBackward(Tensor dgate, Tensor dup, Tensor dy, Tensor gate, Tensor up)
        => Run("swiglu_backward", [dgate, dup, dy, gate, up], t => Cpu.SwiGluBackward(t[0], t[1], t[2], t[3], t[4]));

    public void EmbeddingGather(Tensor y, Tensor weight, Tensor ids) => Run("embedding", [y, weight, ids], t => Cpu.EmbeddingGather(t[0], t[1], t[2]));

    public void EmbeddingScatterAdd(Tensor dweight, Tensor dy, Tensor ids)
        => Run("embedding_backward", [dweight, dy, ids], t => Cpu.EmbeddingScatterAdd(t[0], t[1], t[2]));

    public void CrossEntropy(Tensor lse, Tensor targetLogit, Tensor logits, Tensor targets, int vocabStart)
        => Run("cross_entropy", [lse, targetLogit, logits, targets], t => Cpu.CrossEntropy(t[0], t[1], t[2], t[3], vocabStart));

    public void CrossEntropyBackward(Tensor dlogits, Tensor dloss, Tensor logits, Tensor lse, Tensor targets, int vocabStart)
        => Run("cross_entropy_backward", [dlogits, dloss, logits, lse, targets], t => Cpu.CrossEntropyBackward(t[0], t[1], t[2], t[3], t[4], vocabStart));

    // The packed starts are an operand like the others: on this device, handed to the kernel unwrapped, never copied.
    public void AttentionForward(Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v, AttentionSpec spec)
    {
        if (spec.SequenceStarts is { } starts && starts.Numel > q.Shape[0])
            Interlocked.Increment(ref _packed);
        Run("attention", [o, lse, q, k, v, spec.SequenceStarts], t => Cpu.AttentionForward(t[0], t[1], t[2], t[3], t[4], spec with { SequenceStarts = t[5] }));
    }

    public void AttentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, AttentionSpec spec, Tensor? dlse = null)
        => Run("attention_backward", [dq, dk, dv, dout, q, k, v, o, lse, dlse, spec.SequenceStarts],
            t => Cpu.AttentionBackward(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], spec with { SequenceStarts = t[10] }, t[9]));

    public void AttentionMerge(Tensor o, Tensor lse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB)
        => Run("attention_merge", [o, lse, oA, lseA, oB, lseB], t => Cpu.AttentionMerge(t[0], t[1], t[2], t[3], t[4], t[5]));

    public void AttentionMergeBackward(Tensor doA, Tensor dlseA, Tensor doB, Tensor dlseB, Tensor dout, Tensor? dlse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB, Tensor o, Tensor lse)
        => Run("attention_merge_backward", [doA, dlseA, doB, dlseB, dout, dlse, oA, lseA, oB, lseB, o, lse],
            t => Cpu.AttentionMergeBackward(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11]));

    public void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step) => Run("adamw", [param, grad, m, v], t => Cpu.AdamW(t[0], t[1], t[2], t[3], step));

    /// <summary>Checks every tensor is on this device, then runs <paramref name="kernel"/> on host views of them.</summary>
    private void Run(string op, Tensor?[] tensors, Action<Tensor[]> kernel)
    {
        foreach (var t in tensors)
            if (t is not null && t.Device != Device)
                throw Check.Fail(op, $"every tensor must be on {Device}, got one on {t.Device}", tensors);
        var views = tensors.Select(t => t is null ? null : Host(t)).ToArray();
        try
        {
            kernel(views!);
        }
        finally
        {
            foreach (var v in views)
                v?.Dispose();
        }
    }

    /// <summary>A cpu handle on the same elements: the block behind a strict tensor, or the host tensor itself.</summary>
    private Tensor Host(Tensor t)
    {
        Check.Alive("strict", t);
        var storage = t.Storage is StrictStorage s ? s.Block : t.Storage;
        return new Tensor(storage, t.Layout, t.DType).DetachFromScope();
    }
}
