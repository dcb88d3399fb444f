using RawLongLoRA.Kernels.Cuda;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests.Kernels.Emu;

/// <summary>
/// The CUDA backend's attention wiring (CudaFlashAttention: the bf16 casts of q, k, v and dout from any strides, the
/// scratch, the addresses, the mask of the spec) run on host tensors through the emulation: it must hand the kernels
/// exactly what <see cref="FlashAttentionEmuTests"/> checks them on — the same bits as the launcher called directly
/// with q, k, v already bf16.
/// </summary>
public sealed class CudaFlashAttentionEmuTests
{
    [EmuTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheWiringGivesTheKernelsBitsOnStridedFloat32Operands(bool deterministic)
    {
        using var scope = new DisposeScope();
        const int b = 1, t = 70, hq = 4, hkv = 2, d = 64;
        var spec = new AttentionSpec { GroupSize = 14, QueryStart = 0 };
        var rng = new Random(15);
        // q as a [B, Hq, T, D] tensor seen through a transpose: strided, as attention's callers pass it.
        using var qHeadsFirst = Tensor.FromArray(Array.ConvertAll(Uniform(rng, b * hq * t * d, -2, 2), v => (float)v), [b, hq, t, d]);
        using var q = qHeadsFirst.Transpose(1, 2);
        using var k = Tensor.FromArray(Array.ConvertAll(Uniform(rng, b * t * hkv * d, -2, 2), v => (float)v), [b, t, hkv, d]);
        using var v = Tensor.FromArray(Array.ConvertAll(Uniform(rng, b * t * hkv * d, -1, 1), v => (float)v), [b, t, hkv, d]);
        using var dout = Tensor.FromArray(Array.ConvertAll(Uniform(rng, b * t * hq * d, -1, 1), v => (float)v), [b, t, hq, d]);
        var dims = (b, t, t, hq, hkv, d);

        var (o, lse) = (Output([b, t, hq, d]), Output([b, hq, t]));
        CudaFlashAttention.Forward(EmuRunner.Instance, o, lse, q, k, v, spec, dims);
        var (dq, dk, dv) = (Output([b, t, hq, d]), Output([b, t, hkv, d]), Output([b, t, hkv, d]));
        CudaFlashAttention.Backward(EmuRunner.Instance, dq, dk, dv, dout, q, k, v, o, lse, spec, null, dims, deterministic);

        // The launcher directly, on bf16 copies made here.
        var shape = new FlashAttentionShape(b, t, t, hq, hkv, d);
        var mask = FlashAttentionMask.Of(spec, shape, 0);
        var (q16, k16, v16) = (Output([b, t, hq, d], DType.BF16), Output([b, t, hkv, d], DType.BF16), Output([b, t, hkv, d], DType.BF16));
        Cpu.Copy(q16, q);
        Cpu.Copy(k16, k);
        Cpu.Copy(v16, v);
        var (eo, expectedLse) = (Output([b, t, hq, d]), Output([b, hq, t]));
        var tensors = new FlashAttentionTensors(q16.DataPointer, k16.DataPointer, v16.DataPointer, eo.DataPointer, expectedLse.DataPointer);
        FlashAttentionKernels.Forward(EmuRunner.Instance, shape, mask, tensors);
        var (edq, edk, edv) = (Output([b, t, hq, d]), Output([b, t, hkv, d]), Output([b, t, hkv, d]));
        var (dout16, delta) = (Output([b, t, hq, d], DType.BF16), Output([b, hq, t]));
        FlashAttentionKernels.Backward(EmuRunner.Instance, shape, mask, tensors,
            new(dout.DataPointer, 0, edq.DataPointer, edk.DataPointer, edv.DataPointer, dout16.DataPointer, delta.DataPointer), deterministic);

        Assert.Equal(eo.ToFloatArray(), o.ToFloatArray());
        Assert.Equal(expectedLse.ToFloatArray(), lse.ToFloatArray());
        Assert.Equal(edq.ToFloatArray(), dq.ToFloatArray());
        Assert.Equal(edk.ToFloatArray(), dk.ToFloatArray());
        Assert.Equal(edv.ToFloatArray(), dv.ToFloatArray());
        Assert.All(o.ToFloatArray(), x => Assert.True(float.IsFinite(x)));
    }
}
