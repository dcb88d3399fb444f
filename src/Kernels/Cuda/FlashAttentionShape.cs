using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>The sizes of one flash attention call: q [B, T, Hq, D]; k and v [B, S, Hkv, D].</summary>
/// <param name="Batch">B.</param>
/// <param name="Queries">T.</param>
/// <param name="Keys">S.</param>
/// <param name="Heads">Hq, a multiple of Hkv.</param>
/// <param name="KvHeads">Hkv.</param>
/// <param name="HeadDim">D: 64 or 128.</param>
internal readonly record struct FlashAttentionShape(int Batch, int Queries, int Keys, int Heads, int KvHeads, int HeadDim);

/// <summary>
/// An <see cref="AttentionSpec"/> resolved for one call, as the kernels read it: the scale, the positions of the call's
/// queries and keys in their row, the row length, S2-Attn's group size and the first of the call's heads in its shifted
/// half, and the packed starts' address (0 when none) with their count.
/// </summary>
internal readonly record struct FlashAttentionMask(float Scale, int QueryStart, int KeyStart, int Row, int GroupSize, int FirstShifted, nint Starts, int StartsCount)
{
    /// <summary>
    /// The mask of <paramref name="spec"/> for <paramref name="shape"/>; <paramref name="starts"/> is the address of
    /// spec.SequenceStarts in the memory the kernels run on (0 when it is null).
    /// </summary>
    public static FlashAttentionMask Of(AttentionSpec spec, FlashAttentionShape shape, nint starts)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return new(spec.ScaleFor(shape.HeadDim), spec.QueryStart, spec.KeyStart, AttentionMask.RowLength(spec, shape.Queries, shape.Keys),
            spec.GroupSize, AttentionMask.FirstShiftedHead(spec, shape.Heads), starts, spec.SequenceStarts is { } s ? checked((int)s.Numel) : 0);
    }
}

/// <summary>
/// The forward's buffers: q, k, v bf16 (raw 16-bit words, 16-byte aligned for cp.async); o [B, T, Hq, D] and lse
/// [B, Hq, T] float32, written by the forward and read by the backward.
/// </summary>
internal readonly record struct FlashAttentionTensors(nint Q, nint K, nint V, nint O, nint Lse);

/// <summary>
/// The backward's buffers beside <see cref="FlashAttentionTensors"/>: dout float32 [B, T, Hq, D]; dlse float32 [B, Hq, T]
/// or 0; the gradients dq, dk, dv float32, shaped as q, k, v; and two scratch buffers of
/// <see cref="FlashAttentionKernels.ScratchBytes"/>: dout as bf16 (16-byte aligned) and Δ.
/// </summary>
internal readonly record struct FlashAttentionGradients(nint DOut, nint DLse, nint DQ, nint DK, nint DV, nint DOutBf16, nint Delta);
