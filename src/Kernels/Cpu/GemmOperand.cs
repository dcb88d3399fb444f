namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// A matrix operand: element (r, c) of batch b is at Ptr + (b*BatchStride + r*RowStride + c*ColStride)
/// elements of Type. BatchStride 0 broadcasts one matrix over the batch. (A plain readonly struct:
/// C# records cannot hold pointer fields.)
/// </summary>
public readonly unsafe struct GemmOperand(void* ptr, DType type, long rowStride, long colStride, long batchStride)
{
    public void* Ptr { get; init; } = ptr;
    public DType Type { get; init; } = type;
    public long RowStride { get; init; } = rowStride;
    public long ColStride { get; init; } = colStride;
    public long BatchStride { get; init; } = batchStride;

    /// <summary>The same matrix seen transposed: rows and columns swap strides.</summary>
    internal GemmOperand Transposed => this with { RowStride = ColStride, ColStride = RowStride };

    /// <summary>Batch item b as a pointer to its element (0, 0).</summary>
    internal void* Item(long b) => (byte*)Ptr + b * BatchStride * Type.Size();

    public override string ToString() => $"GemmOperand({Type.TorchName()}, strides r={RowStride} c={ColStride} b={BatchStride})";
}
