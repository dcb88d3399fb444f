using ILGPU.Runtime.Cuda;
using RawLongLoRA.Kernels.Gpu;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// An ILGPU CUDA backend's raw handles, as our bindings take them: ILGPU owns the context and the stream, and cuBLAS,
/// events and PTX launches run inside them.
/// </summary>
internal static class CudaHandles
{
    /// <summary>Makes the backend's context (ILGPU's) current on the calling thread.</summary>
    public static void Bind(IlgpuBackend b) => CudaDriver.MakeCurrent(b.Accelerator.NativePtr);

    /// <summary>The CUstream of the backend's one stream (ILGPU's default stream is CUDA's null stream, 0).</summary>
    public static nint Stream(IlgpuBackend b) => ((CudaStream)b.Stream).StreamPtr;

    /// <summary>The address of <paramref name="t"/>'s first element in its storage's memory (the device's; the host's for a host tensor).</summary>
    public static nint Address(Tensor t) => t.Storage.Handle + (nint)(t.Layout.Offset * t.DType.Size());
}
