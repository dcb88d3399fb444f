using RawLongLoRA.Kernels.Cuda;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// The variants `bench lora` validates and times, in the order they were added (a later version is appended; add
/// yours before the verb runs), and the baselines they are held against: the plain projection x·Wᵀ alone.
/// </summary>
public static class LoraVariants
{
    /// <summary>V1 cpu-reference, V2 cublas, V3 cuda-c-fused, V4 cuda-c-two-kernel, V5 cuda-c-op.</summary>
    public static readonly KernelVariants<LoraProjection> All = new(
        new("cpu-reference", "the projection in float64 on the host; validation only (O(M·N·K) on one core: not timed at GPU sizes)", new ReferenceLoraProjection()),
        new("cublas", "LoraLinearOp through autograd with IlgpuBackend.UseCudaCKernels = false: x·Wᵀ, t = x·Aᵀ, then t·Bᵀ·s added by the GEMM's beta; "
            + "backward u = dY·B shared by dX and dA; every GEMM through cuBLAS on CUDA, t and u in memory; float32 activations (held against plain)",
            new OpLoraProjection(useCudaCKernels: false)),
        new("cuda-c-fused", "kernels.cu/lora.cu fused, bf16 operands: cuBLAS x·Wᵀ, then one kernel per 64 rows keeps x·Aᵀ on chip and adds s·(x·Aᵀ)·Bᵀ into y; "
            + "backward cuBLAS dY·W, one kernel adds s·(dY·B)·A into dX, split-m dA, dB reduced in a fixed order (held against plain-bf16)",
            new KernelsCuLoraProjection(LoraForm.Fused)),
        new("cuda-c-two-kernel", "kernels.cu/lora.cu in two kernels: x·Aᵀ (dY·B) to memory, then an epilogue kernel adds its product into y (dX); "
            + "the rest as cuda-c-fused (held against plain-bf16)", new KernelsCuLoraProjection(LoraForm.TwoKernel)),
        new("cuda-c-op", "LoraLinearOp as the engine runs it on CUDA (UseCudaCKernels = true): x·Wᵀ and dY·W by cuBLAS, the update by lora.cu fused "
            + "(CudaLoraSidePath: x, A, B, dY cast to bf16 each call); float32 activations (held against plain)", new OpLoraProjection(useCudaCKernels: true)));

    /// <summary>
    /// The baselines, each timed beside the variants: plain, the engine's x·Wᵀ of float32 activations (LinearOp), and
    /// plain-bf16, one bf16 GEMM on the bf16 copies; a variant is held against the one of its operands.
    /// </summary>
    public static readonly KernelVariant<LoraProjection>[] Plains =
    [
        new("plain", "x·Wᵀ alone as the engine runs it (LinearOp: float32 x, W widened to float32, cuBLAS at bf16 compute), forward and dX = dY·W",
            new PlainProjection(bf16: false)),
        new("plain-bf16", "x·Wᵀ alone on bf16 copies of x and dY (one bf16 cuBLAS GEMM each), forward and dX = dY·W", new PlainProjection(bf16: true)),
    ];

    /// <summary>What the baselines are validated against.</summary>
    public static readonly LoraProjection PlainReference = new ReferenceLoraProjection(withUpdate: false);
}
