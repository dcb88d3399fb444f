using RawLongLoRA.Kernels.Cuda;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>The LoRA side path on CUDA through kernels.cu/lora.cu (<see cref="CudaLoraSidePath"/>).</summary>
public sealed partial class IlgpuBackend : ILoraSidePath
{
    private CudaLoraSidePath LoraSidePath => _loraSidePath ??= new CudaLoraSidePath(() => KernelRunner, () => IsCuda && UseCudaCKernels);

    private CudaLoraSidePath? _loraSidePath;

    /// <inheritdoc/>
    /// <remarks>On CUDA with <see cref="UseCudaCKernels"/>, under bf16 autocast, ranks 8 to 64, features a multiple of 8.</remarks>
    bool ILoraSidePath.Covers(Tensor x, Tensor loraA, Tensor loraB) => LoraSidePath.Covers(x, loraA, loraB);

    /// <inheritdoc/>
    Tensor ILoraSidePath.Forward(Tensor y, Tensor x, Tensor loraA, Tensor loraB, float scale) => LoraSidePath.Forward(y, x, loraA, loraB, scale);

    /// <inheritdoc/>
    void ILoraSidePath.Backward(Tensor? dx, Tensor dA, Tensor dB, Tensor dy, Tensor x, Tensor saved, Tensor loraA, Tensor loraB, float scale)
        => LoraSidePath.Backward(dx, dA, dB, dy, x, saved, loraA, loraB, scale);
}
