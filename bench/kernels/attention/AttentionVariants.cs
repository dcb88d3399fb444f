namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// The variants `bench attention --device` validates and times, in the order they were added; a later version of a
/// kernel is appended (add yours before the verb runs, as samples/KernelVariant does for `bench ops`). V1 is the
/// reference every other variant is validated against.
/// </summary>
public static class AttentionVariants
{
    /// <summary>V1 cpu-reference, V2 ilgpu, V3 cuda-c, V4 cuda-c-atomic.</summary>
    public static readonly KernelVariants<AttentionKernel> All = new(
        new("cpu-reference", "AttentionReference on the host in float64, bf16 rounding where FlashAttention-2 rounds; validation only (T² float64 on one core: not timed at GPU sizes)",
            new ReferenceAttention()),
        new("ilgpu", "the GPU backend's ILGPU flash kernels (IlgpuBackend.UseCudaCKernels = false): float32 tiles, bf16-rounded operands, no tensor cores",
            new BackendAttention(useCudaCKernels: false, cudaOnly: false)),
        new("cuda-c", "kernels.cu/flash_attention.cu v1 as the engine runs it (UseCudaCKernels = true; CudaFlashAttention casts q, k, v, dout to bf16 each call): "
            + "FlashAttention-2 on mma.sync bf16 tensor cores, ldmatrix, cp.async double buffering; deterministic backward (dq by a kernel of its own)",
            new BackendAttention(useCudaCKernels: true, cudaOnly: true)),
        new("cuda-c-atomic", "cuda-c with IlgpuBackend.DeterministicAttention = false: dq added by float atomics from the dk/dv kernel, one pass over the scores fewer",
            new BackendAttention(useCudaCKernels: true, cudaOnly: true, deterministic: false)));
}
