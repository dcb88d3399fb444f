using RawLongLoRA.Kernels.Cuda;

namespace RawLongLoRA.Kernels.Gpu;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    /// <remarks>
    /// On CUDA, cuBLAS (<see cref="CublasGemm"/>) wherever it can read the operands as they lie; otherwise, and on the
    /// CPU accelerator, the tiled kernel (<see cref="TiledGemm"/>). Both at the calling thread's <see cref="Autocast"/>
    /// precision.
    /// </remarks>
    public void Gemm(Tensor c, Tensor a, Tensor b, float alpha = 1f, float beta = 0f)
    {
        if (IsCuda && CublasGemmPlan.Reads(c, a, b))
            CublasGemm.Run(this, c, a, b, alpha, beta);
        else
            TiledGemm.Run(this, c, a, b, alpha, beta, Autocast.Current);
    }
}
