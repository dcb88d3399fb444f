using ILGPU.Runtime.Cuda;
using RawLongLoRA.Kernels.Gpu;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// Runs kernels.cu's kernels on a CUDA backend: each file's embedded PTX for the device (<see cref="KernelPtx"/>) is
/// loaded once into ILGPU's context, and each launch goes on the backend's stream, so it is ordered with the ILGPU
/// kernels and cuBLAS calls around it. The modules live as long as the context.
/// </summary>
internal sealed unsafe class CudaKernelRunner : IKernelRunner
{
    /// <summary>Dynamic shared memory a launch may use before the kernel must opt in (cuFuncSetAttribute).</summary>
    private const uint DefaultSharedLimit = 48 * 1024;

    private readonly IlgpuBackend _backend;
    private readonly string _target;
    private readonly Dictionary<string, nint> _modules = [];
    private readonly Dictionary<(string File, string Kernel), (nint Function, uint SharedOptIn)> _functions = [];
    private readonly Lock _lock = new();

    /// <summary>A runner on <paramref name="backend"/>, which must be on CUDA.</summary>
    public CudaKernelRunner(IlgpuBackend backend)
    {
        if (!backend.IsCuda || backend.Accelerator is not CudaAccelerator cuda)
            throw new ArgumentException($"the CUDA C kernels run on a CUDA device; {backend.Device} is not one", nameof(backend));
        _backend = backend;
        _target = KernelPtx.TargetFor(cuda.Architecture.Major, cuda.Architecture.Minor);
    }

    /// <inheritdoc/>
    public void Run<TParams>(string file, string kernel, KernelLaunch launch, in TParams parameters) where TParams : unmanaged
    {
        CudaHandles.Bind(_backend);
        nint function = Function(file, kernel, launch.SharedBytes);
        TParams copy = parameters;
        void* argument = &copy;
        CudaDriver.Check(CudaDriver.cuLaunchKernel(function, launch.GridX, launch.GridY, launch.GridZ, launch.BlockX, launch.BlockY, launch.BlockZ,
            launch.SharedBytes, CudaHandles.Stream(_backend), &argument, null), $"cuLaunchKernel({kernel})");
    }

    /// <summary>The loaded function, opted in to at least <paramref name="sharedBytes"/> of dynamic shared memory.</summary>
    private nint Function(string file, string kernel, uint sharedBytes)
    {
        lock (_lock)
        {
            if (!_modules.TryGetValue(file, out nint module))
                _modules[file] = module = CudaDriver.LoadModule(KernelPtx.Read(file, _target));
            if (!_functions.TryGetValue((file, kernel), out var f))
                f = (CudaDriver.Function(module, kernel), DefaultSharedLimit);
            if (sharedBytes > f.SharedOptIn)
            {
                CudaDriver.Check(CudaDriver.cuFuncSetAttribute(f.Function, CudaDriver.MaxDynamicSharedBytes, (int)sharedBytes),
                    $"cuFuncSetAttribute({kernel}, max dynamic shared memory {sharedBytes} bytes)");
                f.SharedOptIn = sharedBytes;
            }
            _functions[(file, kernel)] = f;
            return f.Function;
        }
    }
}
