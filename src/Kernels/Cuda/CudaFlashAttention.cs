using RawLongLoRA.Kernels.Gpu;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// The CUDA backend's attention through kernels.cu/flash_attention.cu (<see cref="FlashAttentionKernels"/>) where it
/// covers the call: on CUDA, under bf16 autocast (the kernels take bf16 q, k, v — the ILGPU path rounds the same
/// operands to bf16, so the choice changes speed, not the numbers' precision), head dim 64 or 128, and float32
/// outputs and gradients laid out densely. q, k, v (any strides) and dout are cast into bf16 scratch first. The
/// calls take any backend and runner, so the tests run this very code on host tensors through the emulation.
/// </summary>
internal static class CudaFlashAttention
{
    /// <summary>Whether the kernels take this call; else the ILGPU kernels run it.</summary>
    public static bool Covers(IlgpuBackend backend, int headDim, params ReadOnlySpan<Tensor?> dense)
    {
        if (!backend.IsCuda || !backend.UseCudaCKernels || Autocast.Current != Precision.Bf16 || headDim is not (64 or 128))
            return false;
        foreach (var t in dense)
            if (t is not null && (t.DType != DType.F32 || !t.IsContiguous))
                return false;
        return true;
    }

    /// <summary>o and lse of <paramref name="spec"/>'s attention over q, k, v.</summary>
    public static void Forward(IBackend backend, IKernelRunner runner, Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v, AttentionSpec spec,
                               (int B, int T, int S, int Hq, int Hkv, int D) dims)
    {
        var shape = new FlashAttentionShape(dims.B, dims.T, dims.S, dims.Hq, dims.Hkv, dims.D);
        using var q16 = Bf16(backend, q);
        using var k16 = Bf16(backend, k);
        using var v16 = Bf16(backend, v);
        FlashAttentionKernels.Forward(runner, shape, Mask(spec, shape), Tensors(o, lse, q16, k16, v16));
    }

    /// <summary>dq, dk, dv of <paramref name="spec"/>'s attention (dq by its own kernel when <paramref name="deterministic"/>).</summary>
    public static void Backward(IBackend backend, IKernelRunner runner, Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse,
                                AttentionSpec spec, Tensor? dlse, (int B, int T, int S, int Hq, int Hkv, int D) dims, bool deterministic)
    {
        var shape = new FlashAttentionShape(dims.B, dims.T, dims.S, dims.Hq, dims.Hkv, dims.D);
        using var q16 = Bf16(backend, q);
        using var k16 = Bf16(backend, k);
        using var v16 = Bf16(backend, v);
        using var dout16 = Tensor.Empty(dout.ShapeArray, DType.BF16, backend.Device);
        using var delta = Tensor.Empty(lse.ShapeArray, DType.F32, backend.Device);
        var gradients = new FlashAttentionGradients(CudaHandles.Address(dout), dlse is null ? 0 : CudaHandles.Address(dlse),
            CudaHandles.Address(dq), CudaHandles.Address(dk), CudaHandles.Address(dv), CudaHandles.Address(dout16), CudaHandles.Address(delta));
        FlashAttentionKernels.Backward(runner, shape, Mask(spec, shape), Tensors(o, lse, q16, k16, v16), gradients, deterministic);
    }

    private static FlashAttentionMask Mask(AttentionSpec spec, FlashAttentionShape shape)
        => FlashAttentionMask.Of(spec, shape, spec.SequenceStarts is { } s ? CudaHandles.Address(s) : 0);

    private static FlashAttentionTensors Tensors(Tensor o, Tensor lse, Tensor q16, Tensor k16, Tensor v16)
        => new(CudaHandles.Address(q16), CudaHandles.Address(k16), CudaHandles.Address(v16), CudaHandles.Address(o), CudaHandles.Address(lse));

    /// <summary>A dense bf16 copy of <paramref name="t"/> on its device (both allocators' blocks are aligned past the 16 bytes cp.async needs).</summary>
    private static Tensor Bf16(IBackend backend, Tensor t)
    {
        var copy = Tensor.Empty(t.ShapeArray, DType.BF16, backend.Device);
        backend.Copy(copy, t);
        return copy;
    }
}
