namespace RawLongLoRA.Kernels.Cuda;

/// <summary>A LoRA projection: <paramref name="M"/> rows (tokens), <paramref name="N"/> output features, <paramref name="K"/> input features, rank <paramref name="Rank"/>.</summary>
internal readonly record struct LoraShape(int M, int N, int K, int Rank);

/// <summary>
/// Device addresses of the forward: x [m×k], A [r×k], B [n×r] bf16; y [m×n] float32; xa [m×r] bf16, where the forward
/// stores x·Aᵀ for the backward (null only in the fused form, when no backward follows).
/// </summary>
internal readonly record struct LoraForwardBuffers(nint X, nint A, nint B, nint Y, nint Xa);

/// <summary>
/// Device addresses of the backward: x, A, B, dy [m×n] bf16 and the forward's xa; dx [m×k], dA [r×k], dB [n×r] float32;
/// scratch of <see cref="LoraKernels.BackwardScratchBytes"/> bytes.
/// </summary>
internal readonly record struct LoraBackwardBuffers(nint X, nint A, nint B, nint Dy, nint Xa, nint Dx, nint DA, nint DB, nint Scratch);
