namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// Runs a kernel of kernels.cu/ by name with its one parameter struct: on a GPU the PTX module's function on the
/// backend's stream; in tests the same source built as host C++ against the emulation header. The launchers
/// (argument checks, launch shape, parameter struct) are shared, so what the emulated runs check is what a GPU runs.
/// </summary>
public interface IKernelRunner
{
    /// <summary>
    /// Launches <paramref name="kernel"/> of kernels.cu/<paramref name="file"/>.cu with <paramref name="parameters"/>,
    /// whose layout is the kernel's C struct.
    /// </summary>
    void Run<TParams>(string file, string kernel, KernelLaunch launch, in TParams parameters) where TParams : unmanaged;
}
