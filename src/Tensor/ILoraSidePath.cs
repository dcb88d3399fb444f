namespace RawLongLoRA;

/// <summary>
/// A backend that adds a LoRA update to a projection with kernels of its own (kernels.cu/lora.cu on CUDA) instead of
/// the two GEMMs each way of the composition: the rank-r intermediate stays on chip and x, dy are read once. Optional;
/// LoraLinearOp asks <see cref="Covers"/> per call and composes GEMMs where it says no.
/// </summary>
public interface ILoraSidePath
{
    /// <summary>Whether it takes rows <paramref name="x"/> [N, in] with A [r, in] and B [out, r] at the calling thread's precision.</summary>
    bool Covers(Tensor x, Tensor loraA, Tensor loraB);

    /// <summary>
    /// y [N, out] += <paramref name="scale"/>·(x·Aᵀ)·Bᵀ. Returns what <see cref="Backward"/> needs of the forward (x·Aᵀ,
    /// as the kernels keep it); the caller owns it.
    /// </summary>
    Tensor Forward(Tensor y, Tensor x, Tensor loraA, Tensor loraB, float scale);

    /// <summary>
    /// With u = dy·B: <paramref name="dx"/> [N, in] += scale·u·A where given; dA [r, in] = scale·uᵀ·x and dB [out, r] =
    /// scale·dyᵀ·(x·Aᵀ), overwritten; <paramref name="saved"/> is what <see cref="Forward"/> returned.
    /// </summary>
    void Backward(Tensor? dx, Tensor dA, Tensor dB, Tensor dy, Tensor x, Tensor saved, Tensor loraA, Tensor loraB, float scale);
}
