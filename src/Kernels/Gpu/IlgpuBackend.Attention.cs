using ILGPU;
using ILGPU.Runtime;
using RawLongLoRA.Kernels.Cpu;
using RawLongLoRA.Kernels.Cuda;

namespace RawLongLoRA.Kernels.Gpu;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    /// <remarks>
    /// At the calling thread's <see cref="Autocast"/> precision: under bf16 the kernels round the products' operands
    /// as the CPU's bf16 passes do (AttentionSizes.RoundBf16): ILGPU has no bf16 arithmetic, so the rounding buys no
    /// speed, only a bf16 run that computes the same numbers on either backend. The operands' checks are the CPU backend's;
    /// SequenceStarts must be on this device. On CUDA under bf16 autocast with head dim 64 or 128, kernels.cu's
    /// tensor-core kernel runs instead (CudaFlashAttention), unless <see cref="UseCudaCKernels"/> is false.
    /// </remarks>
    public void AttentionForward(Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v, AttentionSpec spec)
    {
        const string op = "attention";
        Require(op, o, lse, q, k, v);
        var (b, t, s, hq, hkv, d) = AttentionCall.ForwardDims(o, lse, q, k, v);
        var (sizes, mask) = FlashSetup(spec, b, t, s, hq, hkv, d, lse);
        if (CudaFlashAttention.Covers(this, d, o, lse))
        {
            CudaFlashAttention.Forward(KernelRunner, o, lse, q, k, v, spec, (b, t, s, hq, hkv, d));
            return;
        }
        sizes = Tiled(op, sizes, AttentionForwardKernels.TileArrays, [o, lse, q, k, v]);
        var kernel = Kernel(static a => a.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionSizes, AttentionMaskDevice>(
            AttentionForwardKernels.Forward));
        kernel(Stream, AttentionConfig(op, (long)b * hq * sizes.QueryTiles, sizes, AttentionForwardKernels.TileArrays), View<float>(o), View<float>(lse), View<float>(q), View<float>(k), View<float>(v), sizes, mask);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// On CUDA under bf16 autocast with head dim 64 or 128, kernels.cu's tensor-core kernels (CudaFlashAttention). Else
    /// two kernels (AttentionBackwardKernels): dq per query tile, then dk and dv per key tile summed over the query heads
    /// sharing its kv head in a fixed order — deterministic, no atomics. At the calling thread's <see cref="Autocast"/>
    /// precision, as the forward (the autograd engine runs a backward at its forward's).
    /// </remarks>
    public void AttentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, AttentionSpec spec, Tensor? dlse = null)
    {
        const string op = "attention_backward";
        Require(op, dq, dk, dv, dout, q, k, v, o, lse, dlse);
        var (b, t, s, hq, hkv, d) = AttentionCall.BackwardDims(dq, dk, dv, dout, q, k, v, o, lse, dlse);
        var inputs = new AttentionInputs
        {
            Q = View<float>(q), K = View<float>(k), V = View<float>(v), O = View<float>(o), Lse = View<float>(lse), DOut = View<float>(dout),
            DLse = dlse is null ? View<float>(lse).SubView(0, 0) : View<float>(dlse),
        };
        Tensor[] all = dlse is null ? [dq, dk, dv, dout, q, k, v, o, lse] : [dq, dk, dv, dout, q, k, v, o, lse, dlse];

        var (sizes, mask) = FlashSetup(spec, b, t, s, hq, hkv, d, lse);
        if (CudaFlashAttention.Covers(this, d, dq, dk, dv, dout, o, lse, dlse))
        {
            CudaFlashAttention.Backward(KernelRunner, dq, dk, dv, dout, q, k, v, o, lse, spec, dlse, (b, t, s, hq, hkv, d), DeterministicAttention);
            return;
        }

        var dqSizes = Tiled(op, sizes, AttentionBackwardKernels.DqTileArrays, all);
        var dqKernel = Kernel(static a => a.LoadKernel<ArrayView<float>, AttentionInputs, AttentionSizes, AttentionMaskDevice>(AttentionBackwardKernels.Dq));
        dqKernel(Stream, AttentionConfig(op, (long)b * hq * dqSizes.QueryTiles, dqSizes, AttentionBackwardKernels.DqTileArrays), View<float>(dq), inputs, dqSizes, mask);

        var dkdvSizes = Tiled(op, sizes, AttentionBackwardKernels.DkDvTileArrays, all);
        var dkdvKernel = Kernel(static a => a.LoadKernel<ArrayView<float>, ArrayView<float>, AttentionInputs, AttentionSizes, AttentionMaskDevice>(AttentionBackwardKernels.DkDv));
        dkdvKernel(Stream, AttentionConfig(op, (long)b * hkv * dkdvSizes.KeyTiles, dkdvSizes, AttentionBackwardKernels.DkDvTileArrays), View<float>(dk), View<float>(dv), inputs, dkdvSizes, mask);
    }

    /// <summary>
    /// The spec checked for this device (as the CPU checks it), the call's sizes (tile still unset) and its mask; lse
    /// lends the empty view that stands for absent packed starts.
    /// </summary>
    private (AttentionSizes, AttentionMaskDevice) FlashSetup(AttentionSpec spec, int b, int t, int s, int hq, int hkv, int d, Tensor lse)
    {
        AttentionMask.ValidateHeads(hq, hkv, d);
        AttentionMask.Validate(spec, b, t, s, hq, Device);
        var sizes = new AttentionSizes
        {
            B = b, T = t, S = s, Hq = hq, Hkv = hkv, D = d, Scale = spec.ScaleFor(d), RoundBf16 = Autocast.Current == Precision.Bf16 ? 1 : 0,
        };
        return (sizes, AttentionMaskDevice.Of(spec, t, s, hq, View<int>(lse).SubView(0, 0)));
    }

    /// <summary>
    /// <paramref name="sizes"/> with the tile edge of a kernel that keeps <paramref name="tileArrays"/> tiles of
    /// [tile × D]: it starts at the warp width — 4 on the tests' CPU accelerator, so tiny shapes cross many tile edges;
    /// 32 on a GPU — and halves until the tiles fit a group's shared memory (48 KB at most, past which CUDA needs an
    /// opt-in ILGPU does not bind).
    /// </summary>
    private AttentionSizes Tiled(string op, AttentionSizes sizes, int tileArrays, Tensor[] tensors)
    {
        long room = Math.Min(Accelerator.MaxSharedMemoryPerGroup, 48 * 1024) - AttentionTiles.StaticBytes;
        int tile = Math.Min(Accelerator.WarpSize, AttentionTiles.MaxTile);
        while (tile > 1 && AttentionTiles.SharedFloats(tile, sizes.D, tileArrays) * (long)sizeof(float) > room)
            tile /= 2;
        if (AttentionTiles.SharedFloats(tile, sizes.D, tileArrays) * (long)sizeof(float) > room)
            throw Check.Fail(op, $"head dim {sizes.D} needs more shared memory than a group's {room} bytes", tensors);
        return sizes with { Tile = tile };
    }

    /// <summary>A launch of <paramref name="groups"/> groups of up to 128 threads with the kernel's dynamic shared memory.</summary>
    private KernelConfig AttentionConfig(string op, long groups, AttentionSizes sizes, int tileArrays)
        => new(Extent(op, groups), Math.Min(Accelerator.MaxNumThreadsPerGroup, 128),
               SharedMemoryConfig.RequestDynamic<float>(AttentionTiles.SharedFloats(sizes.Tile, sizes.D, tileArrays)));

    /// <inheritdoc/>
    public void AttentionMerge(Tensor o, Tensor lse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB)
        => AttentionMergeCall.Forward(this, o, lse, oA, lseA, oB, lseB);

    /// <inheritdoc/>
    public void AttentionMergeBackward(Tensor doA, Tensor dlseA, Tensor doB, Tensor dlseB, Tensor dout, Tensor? dlse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB, Tensor o, Tensor lse)
        => AttentionMergeCall.Backward(this, doA, dlseA, doB, dlseB, dout, dlse, oA, lseA, oB, lseB, o, lse);
}
