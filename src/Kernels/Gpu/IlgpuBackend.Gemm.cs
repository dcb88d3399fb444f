namespace RawLongLoRA.Kernels.Gpu;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public void Gemm(Tensor c, Tensor a, Tensor b, float alpha = 1f, float beta = 0f) => throw NotYet("Gemm");
}
