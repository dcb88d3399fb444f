namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// The variants `bench lora` validates and times, in the order they were added (a later version is appended; add
/// yours before the verb runs), and the baseline they are held against: the plain projection x·Wᵀ alone.
/// </summary>
public static class LoraVariants
{
    /// <summary>V1 cpu-reference, V2 cublas.</summary>
    public static readonly KernelVariants<LoraProjection> All = new(
        new("cpu-reference", "the projection in float64 on the host; validation only (O(M·N·K) on one core: not timed at GPU sizes)", new ReferenceLoraProjection()),
        new("cublas", "LoraLinearOp through autograd: x·Wᵀ, t = x·Aᵀ, then t·Bᵀ·s added by the GEMM's beta; backward u = dY·B shared by dX and dA; every GEMM through cuBLAS on CUDA, t and u in memory",
            new OpLoraProjection()));

    /// <summary>The baseline: LinearOp's x·Wᵀ through cuBLAS, forward and dX.</summary>
    public static readonly KernelVariant<LoraProjection> Plain = new("plain", "x·Wᵀ alone (LinearOp, cuBLAS): the time the LoRA projection is held against", new PlainProjection());

    /// <summary>What the baseline is validated against.</summary>
    public static readonly LoraProjection PlainReference = new ReferenceLoraProjection(withUpdate: false);
}
