using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// NVTX ranges and marks, so that Nsight Systems and ncu show our op and module names. Where the NVTX library is absent
/// (it is optional), <see cref="Push"/>, <see cref="Pop"/> and <see cref="Mark"/> do nothing: a profile without NVTX
/// ranges is still a profile.
/// </summary>
internal static unsafe partial class Nvtx
{
    private static readonly ConcurrentDictionary<string, byte[]> Names = new();
    private static readonly Lazy<bool> Present = new(() => CudaLibraries.TryGet(CudaLibraries.Nvtx));

    static Nvtx() => CudaLibraries.UseResolver();

    /// <summary>Whether the NVTX library loaded (false where it is absent: the calls are then skipped).</summary>
    public static bool Available => Present.Value;

    [LibraryImport(CudaLibraries.Nvtx)]
    private static partial int nvtxRangePushA(byte* message);

    [LibraryImport(CudaLibraries.Nvtx)]
    private static partial int nvtxRangePop();

    [LibraryImport(CudaLibraries.Nvtx)]
    private static partial void nvtxMarkA(byte* message);

    /// <summary>Opens a range named <paramref name="name"/> on the calling thread.</summary>
    public static void Push(string name)
    {
        if (!Available)
            return;
        fixed (byte* p = Utf8(name))
            nvtxRangePushA(p);
    }

    /// <summary>Closes the calling thread's innermost range.</summary>
    public static void Pop()
    {
        if (Available)
            nvtxRangePop();
    }

    /// <summary>A point in time named <paramref name="name"/>.</summary>
    public static void Mark(string name)
    {
        if (!Available)
            return;
        fixed (byte* p = Utf8(name))
            nvtxMarkA(p);
    }

    // The same few names come back every op: encode each once, NUL-terminated.
    private static byte[] Utf8(string name) => Names.GetOrAdd(name, n => Encoding.UTF8.GetBytes(n + "\0"));
}

/// <summary>The profiler's ranges as NVTX ranges (set as <see cref="RawLongLoRA.Profiling.Profiler.Mirror"/> once a CUDA device is profiled).</summary>
internal sealed class NvtxRanges : RawLongLoRA.Profiling.IRangeMirror
{
    /// <inheritdoc/>
    public void Push(string name) => Nvtx.Push(name);

    /// <inheritdoc/>
    public void Pop() => Nvtx.Pop();
}
