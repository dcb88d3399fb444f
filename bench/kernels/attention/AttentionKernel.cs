using RawLongLoRA.Kernels.Cpu;
using RawLongLoRA.Kernels.Gpu;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// A variant of attention as `bench attention --device` runs it: the forward into o and lse, the backward (from the
/// forward's o and lse) into dq, dk and dv, on the problem's device, under bf16 autocast (the caller's scope).
/// </summary>
public abstract class AttentionKernel
{
    /// <summary>False for the CPU reference: it validates the others and is never timed.</summary>
    public virtual bool Timed => true;

    /// <summary>Why the variant cannot run on <paramref name="device"/>, or null where it can.</summary>
    public virtual string? Unavailable(IBackend device) => null;

    /// <summary>o and lse of <paramref name="t"/> from q, k and v.</summary>
    public abstract void Forward(AttentionTensors t, AttentionSpec spec);

    /// <summary>dq, dk and dv of <paramref name="t"/> from dout, q, k, v, o and lse.</summary>
    public abstract void Backward(AttentionTensors t, AttentionSpec spec);
}

/// <summary>
/// The device's backend (<see cref="IBackend.AttentionForward"/> and its backward), with kernels.cu's kernels on or off
/// (<see cref="IlgpuBackend.UseCudaCKernels"/>) and their backward's dq summed in a fixed order or by atomics
/// (<see cref="IlgpuBackend.DeterministicAttention"/>); <paramref name="cudaOnly"/> where the variant exists only on CUDA.
/// </summary>
public sealed class BackendAttention(bool useCudaCKernels, bool cudaOnly, bool deterministic = true) : AttentionKernel
{
    /// <inheritdoc/>
    public override string? Unavailable(IBackend device) =>
        device is not IlgpuBackend ? $"runs on the GPU backend, not {device.Device}"
        : cudaOnly && !BenchDevice.IsCuda(device) ? "kernels.cu's kernels run on CUDA only" : null;

    /// <inheritdoc/>
    public override void Forward(AttentionTensors t, AttentionSpec spec) => Backend(t).AttentionForward(t.O, t.Lse, t.Q, t.K, t.V, spec);

    /// <inheritdoc/>
    public override void Backward(AttentionTensors t, AttentionSpec spec) =>
        Backend(t).AttentionBackward(t.DQ, t.DK, t.DV, t.DOut, t.Q, t.K, t.V, t.O, t.Lse, spec);

    private IBackend Backend(AttentionTensors t)
    {
        var backend = (IlgpuBackend)t.Device.Backend;
        backend.UseCudaCKernels = useCudaCKernels;
        backend.DeterministicAttention = deterministic;
        return backend;
    }
}

/// <summary>
/// <see cref="AttentionReference"/> at bf16 (float64 sums; q, k, v, dO, P and dS rounded to bf16 where FlashAttention-2
/// rounds) on the host, its results copied to the device: what the others are validated against. The whole T × T
/// score matrix in float64 on one core: seconds at T = 256, hours at the timed sizes, so it is not timed.
/// </summary>
public sealed class ReferenceAttention : AttentionKernel
{
    /// <inheritdoc/>
    public override bool Timed => false;

    /// <inheritdoc/>
    public override void Forward(AttentionTensors t, AttentionSpec spec)
    {
        var (_, s, hq, hkv, d) = Dims(t);
        var (o, lse) = AttentionReference.Forward(t.Q.ToFloatArray(), t.K.ToFloatArray(), t.V.ToFloatArray(), 1, s, s, hq, hkv, d, spec, Precision.Bf16);
        Upload(t.O, o);
        Upload(t.Lse, lse);
    }

    /// <inheritdoc/>
    public override void Backward(AttentionTensors t, AttentionSpec spec)
    {
        var (_, s, hq, hkv, d) = Dims(t);
        var (dq, dk, dv) = AttentionReference.Backward(t.DOut.ToFloatArray(), t.Q.ToFloatArray(), t.K.ToFloatArray(), t.V.ToFloatArray(),
                                                       1, s, s, hq, hkv, d, spec, null, Precision.Bf16);
        Upload(t.DQ, dq);
        Upload(t.DK, dk);
        Upload(t.DV, dv);
    }

    private static (int B, int T, int Hq, int Hkv, int D) Dims(AttentionTensors t) => (1, t.Q.Shape[1], t.Q.Shape[2], t.K.Shape[2], t.Q.Shape[3]);

    private static void Upload(Tensor device, float[] values)
    {
        using var host = Tensor.FromArray(values, device.ShapeArray);
        device.CopyFrom(host);
    }
}
