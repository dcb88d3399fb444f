using System.Runtime.InteropServices;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// kernels.cu/flash_attention.cu's FlashAttentionParams, field for field (160 bytes; the C side asserts the size): the
/// one struct every kernel of the file takes by value. Addresses are device pointers on a GPU, host pointers under the
/// emulation; bf16 buffers hold raw 16-bit words. <see cref="FlashAttentionKernels"/> fills it.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FlashAttentionParams
{
    public nint Q, K, V, O, Lse, DOut, DLse, DOutBf16, Delta, DQ, DK, DV, Starts;
    public int StartsCount, Batch, Queries, Keys, Heads, KvHeads, Row, GroupSize, QueryStart, KeyStart, FirstShifted;
    public float Scale;
    public int AtomicDq;
}
