using System.Runtime.InteropServices;

namespace RawLongLoRA;

/// <summary>
/// How host memory is obtained. glibc's malloc gives blocks above a (dynamic) threshold their own
/// mmap, and hands freed memory at the top of its heap back to the OS: a training step that frees
/// and allocates the same tensors again then pays a page fault on every 4 KiB of every one of them
/// (the profiler counted 84,000 faults and 0.6 s of OS time in each 1.6 s step of the demo's
/// fine-tuning; 4,400 faults and 0.2–0.3 s a step with this setting). Raising both thresholds
/// keeps tensors of up to 32 MiB in the heap, reused from step to step; larger ones are still mapped
/// and unmapped. The process keeps its peak heap, as PyTorch's caching allocators do.
/// </summary>
internal static partial class HostMemory
{
    private const int TrimThreshold = -1, MmapThreshold = -3;

    /// <summary>glibc's largest mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX).</summary>
    private const int MaxMmapThreshold = 32 << 20;

    /// <summary>Applies the settings once; a no-op where the C library is not glibc.</summary>
    public static void KeepFreedBlocks()
    {
        if (!OperatingSystem.IsLinux())
            return;
        try
        {
            MallOpt(MmapThreshold, MaxMmapThreshold);
            MallOpt(TrimThreshold, int.MaxValue);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (musl): its allocator has no such thresholds.
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "mallopt")]
    private static partial int MallOpt(int param, int value);
}
