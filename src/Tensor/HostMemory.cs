using System.Runtime.InteropServices;

namespace RawLongLoRA;

/// <summary>
/// Blocks of host memory from the C library, for <see cref="HostAllocator"/>, which keeps and reuses them.
/// Fresh pages are what costs: the kernel faults each 4 KiB page in on first touch (on this VM about
/// 1/3 of a step's CPU time went to it before blocks were reused). Blocks of 2 MiB and more are also
/// 2 MiB aligned and advised for transparent huge pages, so a first touch brings in 2 MiB at once where
/// the kernel allows it (transparent_hugepage "madvise" or "always").
/// </summary>
internal static unsafe partial class HostMemory
{
    /// <summary>Every block's alignment: a cache line, a zmm register.</summary>
    public const int Alignment = 64;

    /// <summary>A transparent huge page on x64 and arm64 (4 KiB base pages).</summary>
    public const long HugePage = 2 << 20;

    private const int MAdvHugePage = 14;

    /// <summary>A new block of <paramref name="bytes"/> (uninitialised), or 0 when the C library has none.</summary>
    public static nint Allocate(long bytes)
    {
        bool huge = bytes >= HugePage;
        void* p;
        try
        {
            p = NativeMemory.AlignedAlloc((nuint)bytes, huge ? (nuint)HugePage : Alignment);
        }
        catch (OutOfMemoryException)
        {
            return 0;
        }
        if (huge && OperatingSystem.IsLinux())
            Advise((nint)p, bytes / HugePage * HugePage);
        return (nint)p;
    }

    /// <summary>Hands a block of <see cref="Allocate"/> back to the C library.</summary>
    public static void Free(nint block) => NativeMemory.AlignedFree((void*)block);

    private static void Advise(nint start, long length)
    {
        try
        {
            // Advice only: a kernel without THP answers EINVAL and the block works as it is.
            MAdvise(start, (nuint)length, MAdvHugePage);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int MAdvise(nint address, nuint length, int advice);
}
