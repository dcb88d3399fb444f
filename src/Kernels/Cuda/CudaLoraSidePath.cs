namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// The LoRA side path through kernels.cu/lora.cu (<see cref="LoraKernels"/>, fused form) for a runner: under bf16
/// autocast (the composition's GEMMs round the same operands to bf16 there), ranks 8, 16, 32, 64, feature counts that
/// are multiples of 8, float32 operands laid out densely. x, A, B and dy are cast into bf16 scratch on their device
/// (both allocators align blocks past the 16 bytes cp.async needs); x·Aᵀ is kept as bf16 [N, r] for the backward. The
/// CUDA backend uses it with its runner; the tests run it on host tensors through the emulation.
/// </summary>
internal sealed class CudaLoraSidePath(Func<IKernelRunner> runner, Func<bool> enabled) : ILoraSidePath
{
    /// <inheritdoc/>
    public bool Covers(Tensor x, Tensor loraA, Tensor loraB)
    {
        if (!enabled() || Autocast.Current != Precision.Bf16 || x.Rank != 2 || loraA.Rank != 2 || loraB.Rank != 2)
            return false;
        foreach (var t in (ReadOnlySpan<Tensor>)[x, loraA, loraB])
            if (t.DType != DType.F32 || !t.IsContiguous)
                return false;
        return Array.IndexOf(LoraKernels.Ranks, loraA.Shape[0]) >= 0 && x.Shape[1] % 8 == 0 && loraB.Shape[0] % 8 == 0;
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor y, Tensor x, Tensor loraA, Tensor loraB, float scale)
    {
        var shape = Shape(x, loraA, loraB);
        using var x16 = Bf16(x);
        using var a16 = Bf16(loraA);
        using var b16 = Bf16(loraB);
        var xa = Tensor.Empty([shape.M, shape.Rank], DType.BF16, x.Device);
        LoraKernels.Forward(runner(), shape, new(CudaHandles.Address(x16), CudaHandles.Address(a16), CudaHandles.Address(b16), CudaHandles.Address(y), CudaHandles.Address(xa)), scale);
        return xa;
    }

    /// <inheritdoc/>
    public void Backward(Tensor? dx, Tensor dA, Tensor dB, Tensor dy, Tensor x, Tensor saved, Tensor loraA, Tensor loraB, float scale)
    {
        var shape = Shape(x, loraA, loraB);
        using var x16 = Bf16(x);
        using var a16 = Bf16(loraA);
        using var b16 = Bf16(loraB);
        using var dy16 = Bf16(dy);
        // The kernels always add the update into a dx; without one asked for, into scratch (its sum is not needed).
        using var scratchDx = dx is null ? Tensor.Zeros([shape.M, shape.K], DType.F32, x.Device) : null;
        using var scratch = Tensor.Empty([checked((int)LoraKernels.BackwardScratchBytes(shape))], DType.U8, x.Device);
        LoraKernels.Backward(runner(), shape, new(CudaHandles.Address(x16), CudaHandles.Address(a16), CudaHandles.Address(b16), CudaHandles.Address(dy16), CudaHandles.Address(saved),
            CudaHandles.Address(dx ?? scratchDx!), CudaHandles.Address(dA), CudaHandles.Address(dB), CudaHandles.Address(scratch)), scale);
    }

    private static Tensor Bf16(Tensor t) => Tensor.EmptyLike(t, DType.BF16).CopyFrom(t);

    private static LoraShape Shape(Tensor x, Tensor loraA, Tensor loraB) => new(x.Shape[0], loraB.Shape[0], x.Shape[1], loraA.Shape[0]);
}
