using System.Runtime.InteropServices;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// The CUDA driver API calls ILGPU does not make for us: function attributes (shared memory past 48 KB), events
/// (kernel timing), occupancy, the calling thread's context (ILGPU's, made current before cuBLAS or a PTX launch), and
/// modules of external PTX. Each returns a CUresult; <see cref="Check"/> turns a failure into an exception naming the
/// call and the driver's error name.
/// </summary>
internal static unsafe partial class CudaDriver
{
    static CudaDriver() => CudaLibraries.UseResolver();

    /// <summary>CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: the dynamic shared memory a launch may ask for.</summary>
    public const int MaxDynamicSharedBytes = 8;

    /// <summary>CU_EVENT_DEFAULT: an event that records timing.</summary>
    public const uint EventDefault = 0;

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuInit(uint flags);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuDeviceGetCount(out int count);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuCtxGetCurrent")]
    public static partial int cuCtxGetCurrent(out nint context);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuCtxSetCurrent")]
    public static partial int cuCtxSetCurrent(nint context);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuFuncSetAttribute(nint function, int attribute, int value);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuEventCreate(out nint evt, uint flags);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuEventRecord(nint evt, nint stream);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuEventSynchronize(nint evt);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuEventElapsedTime(out float milliseconds, nint start, nint end);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuEventDestroy_v2")]
    public static partial int cuEventDestroy(nint evt);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuOccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, nint function, int blockSize, nuint dynamicSharedBytes);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuModuleLoadData(out nint module, byte* image);

    [LibraryImport(CudaLibraries.Driver, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int cuModuleGetFunction(out nint function, nint module, string name);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuModuleUnload(nint module);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
                                             uint sharedBytes, nint stream, void** parameters, void** extra);

    [LibraryImport(CudaLibraries.Driver)]
    private static partial int cuGetErrorName(int result, out byte* name);

    /// <summary>Throws, naming <paramref name="call"/> and the driver's name for <paramref name="result"/>, unless it is CUDA_SUCCESS.</summary>
    public static void Check(int result, string call)
    {
        if (result == 0)
            return;
        string name = cuGetErrorName(result, out byte* s) == 0 && s != null ? Marshal.PtrToStringUTF8((nint)s)! : "unknown error";
        throw new InvalidOperationException($"cuda: {call} failed: {name} ({result})");
    }

    /// <summary>Makes <paramref name="context"/> current on the calling thread if it is not already.</summary>
    public static void MakeCurrent(nint context)
    {
        Check(cuCtxGetCurrent(out var current), "cuCtxGetCurrent");
        if (current != context)
            Check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    /// <summary>Loads PTX (or a cubin) into the current context and returns the module; free it with cuModuleUnload.</summary>
    public static nint LoadModule(ReadOnlySpan<byte> image)
    {
        // The driver reads PTX as a NUL-terminated string.
        var text = new byte[image.Length + 1];
        image.CopyTo(text);
        fixed (byte* p = text)
        {
            Check(cuModuleLoadData(out var module, p), "cuModuleLoadData");
            return module;
        }
    }

    /// <summary>The kernel <paramref name="name"/> of a loaded module.</summary>
    public static nint Function(nint module, string name)
    {
        Check(cuModuleGetFunction(out var f, module, name), $"cuModuleGetFunction({name})");
        return f;
    }
}
