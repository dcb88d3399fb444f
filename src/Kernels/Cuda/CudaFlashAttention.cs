using RawLongLoRA.Kernels.Gpu;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// The CUDA backend's attention through kernels.cu/flash_attention.cu (<see cref="FlashAttentionKernels"/>) where it
/// covers the call: on CUDA, under bf16 autocast (the kernels take bf16 q, k, v — the ILGPU path rounds the same
/// operands to bf16, so the choice changes speed, not the numbers' precision), head dim 64 or 128, and float32
/// outputs and gradients laid out densely. q, k, v (any strides) and dout are cast into dense bf16 scratch first (both
/// allocators align blocks past the 16 bytes cp.async needs). The calls take any runner, so the tests run this very
/// code on host tensors through the emulation.
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
    public static void Forward(IKernelRunner runner, Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v, AttentionSpec spec,
                               (int B, int T, int S, int Hq, int Hkv, int D) dims)
    {
        var shape = new FlashAttentionShape(dims.B, dims.T, dims.S, dims.Hq, dims.Hkv, dims.D);
        using var q16 = Tensor.EmptyLike(q, DType.BF16).CopyFrom(q);
        using var k16 = Tensor.EmptyLike(k, DType.BF16).CopyFrom(k);
        using var v16 = Tensor.EmptyLike(v, DType.BF16).CopyFrom(v);
        FlashAttentionKernels.Forward(runner, shape, Mask(spec, shape), Tensors(o, lse, q16, k16, v16));
    }

    /// <summary>dq, dk, dv of <paramref name="spec"/>'s attention (dq by its own kernel when <paramref name="deterministic"/>).</summary>
    public static void Backward(IKernelRunner runner, Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse,
                                AttentionSpec spec, Tensor? dlse, (int B, int T, int S, int Hq, int Hkv, int D) dims, bool deterministic)
    {
        var shape = new FlashAttentionShape(dims.B, dims.T, dims.S, dims.Hq, dims.Hkv, dims.D);
        using var q16 = Tensor.EmptyLike(q, DType.BF16).CopyFrom(q);
        using var k16 = Tensor.EmptyLike(k, DType.BF16).CopyFrom(k);
        using var v16 = Tensor.EmptyLike(v, DType.BF16).CopyFrom(v);
        using var dout16 = Tensor.EmptyLike(dout, DType.BF16);
        using var delta = Tensor.EmptyLike(lse);
        var gradients = new FlashAttentionGradients(CudaHandles.Address(dout), dlse is null ? 0 : CudaHandles.Address(dlse),
            CudaHandles.Address(dq), CudaHandles.Address(dk), CudaHandles.Address(dv), CudaHandles.Address(dout16), CudaHandles.Address(delta));
        FlashAttentionKernels.Backward(runner, shape, Mask(spec, shape), Tensors(o, lse, q16, k16, v16), gradients, deterministic);
    }

    private static FlashAttentionMask Mask(AttentionSpec spec, FlashAttentionShape shape)
        => FlashAttentionMask.Of(spec, shape, spec.SequenceStarts is { } s ? CudaHandles.Address(s) : 0);

    private static FlashAttentionTensors Tensors(Tensor o, Tensor lse, Tensor q16, Tensor k16, Tensor v16)
        => new(CudaHandles.Address(q16), CudaHandles.Address(k16), CudaHandles.Address(v16), CudaHandles.Address(o), CudaHandles.Address(lse));
}
