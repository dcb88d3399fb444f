namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// A matrix operand: element (r, c) of batch b is at Ptr + (b*BatchStride + r*RowStride + c*ColStride)
/// elements of Type. BatchStride 0 broadcasts one matrix over the batch. (A plain readonly struct:
/// C# records cannot hold pointer fields.)
/// </summary>
public readonly unsafe struct GemmOperand(void* ptr, DType type, long rowStride, long colStride, long batchStride)
{
    /// <summary>
    /// Address of element (0, 0) of batch item 0; the caller keeps the memory alive during the call.
    /// </summary>
    public void* Ptr { get; init; } = ptr;
    /// <summary>Element type: float32, or BF16/F16 weights converted as they are packed.</summary>
    public DType Type { get; init; } = type;
    /// <summary>Elements from one row to the next.</summary>
    public long RowStride { get; init; } = rowStride;
    /// <summary>
    /// Elements from one column to the next (1 for a row-major matrix, the row length for a transposed view).
    /// </summary>
    public long ColStride { get; init; } = colStride;
    /// <summary>Elements from one batch item to the next; 0 broadcasts one matrix.</summary>
    public long BatchStride { get; init; } = batchStride;

    /// <summary>The same matrix seen transposed: rows and columns swap strides.</summary>
    internal GemmOperand Transposed => this with { RowStride = ColStride, ColStride = RowStride };

    /// <summary>Batch item b as a pointer to its element (0, 0).</summary>
    internal void* Item(long b) => (byte*)Ptr + b * BatchStride * Type.Size();

    /// <summary>The dtype and strides, for messages.</summary>
    public override string ToString() => $"GemmOperand({Type.TorchName()}, strides r={RowStride} c={ColStride} b={BatchStride})";
}
