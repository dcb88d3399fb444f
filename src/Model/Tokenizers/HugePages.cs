using System.Runtime.InteropServices;

namespace RawLongLoRA.Model;

/// <summary>
/// Scratch ints outside the GC heap, in 2 MB pages where Linux gives them (transparent huge pages on
/// request: madvise). The merge loop of a long word touches symbols all over megabytes; with 4 KB pages
/// nearly every touch also misses the TLB (a 1M-letter line, Llama 2: median 0.14 s → 0.10 s; 50 MB of
/// Han characters, Qwen3: 7.4 s → 6.5 s). Freed on Dispose, where the GC would keep a large array's
/// pages for itself.
/// </summary>
internal sealed unsafe partial class HugePages : IDisposable
{
    private const int PageSize = 2 << 20, MadviseHugePage = 14;

    private void* _memory;

    public HugePages(int length)
    {
        nuint bytes = (nuint)length * sizeof(int);
        _memory = NativeMemory.AlignedAlloc(bytes, PageSize);
        Length = length;
        if (OperatingSystem.IsLinux())
            _ = Madvise(_memory, bytes, MadviseHugePage); // a hint: where it is refused, 4 KB pages do
    }

    public int Length { get; }

    public Span<int> Span => _memory is null ? throw new ObjectDisposedException(nameof(HugePages)) : new(_memory, Length);

    public void Dispose()
    {
        NativeMemory.AlignedFree(_memory);
        _memory = null;
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
