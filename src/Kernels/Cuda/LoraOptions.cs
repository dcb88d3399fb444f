namespace RawLongLoRA.Kernels.Cuda;

/// <summary>Which kernels of kernels.cu/lora.cu run the LoRA side path; both give the same bits.</summary>
internal enum LoraForm
{
    /// <summary>
    /// One kernel per 64 rows computes the rank-r intermediate (x·Aᵀ, s·dy·B) on chip and adds its product with B (A)
    /// into y (dx); the intermediate is still stored, r values a row, for the backward.
    /// </summary>
    Fused,

    /// <summary>The intermediate to global memory, then an epilogue kernel adds its product into y (dx).</summary>
    TwoKernel,
}

/// <summary>How <see cref="LoraKernels"/> runs; the defaults are the engine's use.</summary>
internal sealed record LoraOptions
{
    /// <summary>The defaults.</summary>
    public static readonly LoraOptions Default = new();

    /// <summary>Fused, or two kernels.</summary>
    public LoraForm Form { get; init; } = LoraForm.Fused;

    /// <summary>
    /// Add into y (forward) and dx (backward), which hold cuBLAS's x·Wᵀ and dy·W; false overwrites them, for running
    /// the side path first and cuBLAS after it with beta = 1.
    /// </summary>
    public bool AccumulateOutput { get; init; } = true;

    /// <summary>Add into dA and dB (gradient accumulation over micro-batches); false overwrites them.</summary>
    public bool AccumulateWeightGradients { get; init; }

    /// <summary>Columns of y (dx) per block of the two-kernel form's epilogue: a positive multiple of 64.</summary>
    public int ColumnsPerBlock { get; init; } = 256;

    /// <summary>
    /// Blocks along m of the weight-gradient kernel, each summing a run of 64-row tiles into a partial sum that a
    /// second kernel adds up in a fixed order; 0 chooses (<see cref="LoraKernels.Splits"/>).
    /// </summary>
    public int Splits { get; init; }
}
