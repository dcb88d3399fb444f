namespace RawLongLoRA.Kernels.Gpu;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    /// <remarks>The tiled kernel (<see cref="TiledGemm"/>), at the calling thread's <see cref="Autocast"/> precision.</remarks>
    public void Gemm(Tensor c, Tensor a, Tensor b, float alpha = 1f, float beta = 0f) => TiledGemm.Run(this, c, a, b, alpha, beta, Autocast.Current);
}
