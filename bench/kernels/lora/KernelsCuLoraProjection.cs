using RawLongLoRA.Kernels.Cuda;
using RawLongLoRA.Kernels.Gpu;
using CudaLoraShape = RawLongLoRA.Kernels.Cuda.LoraShape;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// kernels.cu/lora.cu through its launcher (<see cref="LoraKernels"/>), in one of its two forms, around the plain
/// projection of bf16 operands: y = x·Wᵀ by cuBLAS, then the side path adds s·(x·Aᵀ)·Bᵀ into it (storing x·Aᵀ for the
/// backward); dX = dY·W by cuBLAS, then the side path adds s·(dY·B)·A and writes dA and dB (deterministic). On CUDA
/// the kernels run from the embedded PTX on the backend's stream (its <see cref="IlgpuBackend.KernelRunner"/>); a test passes the
/// host emulation's runner and runs it on the CPU backend, whose tensors lie in host memory.
/// </summary>
internal sealed class KernelsCuLoraProjection(LoraForm form, IKernelRunner? runner = null) : LoraProjection
{
    /// <inheritdoc/>
    public override bool Bf16Operands => true;

    /// <inheritdoc/>
    public override string? Unavailable(IBackend device) =>
        runner is not null || BenchDevice.IsCuda(device) ? null : "kernels.cu's kernels run on CUDA only";

    /// <inheritdoc/>
    public override LoraOutputs Forward(LoraTensors t)
    {
        // The fused form keeps x·Aᵀ on chip and needs no buffer when no backward follows; the two-kernel form passes it through one.
        using var xa = form == LoraForm.TwoKernel ? Intermediate(t) : null;
        var y = PlainProjection.Product(t);
        SidePathForward(t, y, xa);
        return new(y);
    }

    /// <inheritdoc/>
    public override LoraOutputs ForwardBackward(LoraTensors t)
    {
        using var xa = Intermediate(t);
        var y = PlainProjection.Product(t);
        SidePathForward(t, y, xa);
        var dx = PlainProjection.InputGradient(t);
        var da = Tensor.Empty([t.Shape.R, t.Shape.K], DType.F32, t.X.Device);
        var db = Tensor.Empty([t.Shape.N, t.Shape.R], DType.F32, t.X.Device);
        var shape = Shape(t);
        using var scratch = Tensor.Empty([checked((int)LoraKernels.BackwardScratchBytes(shape, Options))], DType.U8, t.X.Device);
        LoraKernels.Backward(Runner(t), shape, new LoraBackwardBuffers(t.X16.DataPointer, t.A16.DataPointer, t.B16.DataPointer, t.DY16.DataPointer,
            xa.DataPointer, dx.DataPointer, da.DataPointer, db.DataPointer, scratch.DataPointer), t.Scale, Options);
        return new(y, dx, da, db);
    }

    /// <summary>The form; side-path output added into cuBLAS's y and dX; dA and dB overwritten.</summary>
    private LoraOptions Options => new() { Form = form };

    private void SidePathForward(LoraTensors t, Tensor y, Tensor? xa) =>
        LoraKernels.Forward(Runner(t), Shape(t), new LoraForwardBuffers(t.X16.DataPointer, t.A16.DataPointer, t.B16.DataPointer, y.DataPointer, xa?.DataPointer ?? 0),
            t.Scale, Options);

    private IKernelRunner Runner(LoraTensors t) =>
        runner ?? ((IlgpuBackend)t.X.Device.Backend).KernelRunner;

    private static CudaLoraShape Shape(LoraTensors t) => new(t.Shape.M, t.Shape.N, t.Shape.K, t.Shape.R);

    /// <summary>x·Aᵀ [M, R] in bf16, which the forward stores and the backward reads.</summary>
    private static Tensor Intermediate(LoraTensors t) => Tensor.Empty([t.Shape.M, t.Shape.R], DType.BF16, t.X.Device);
}
