using System.Runtime.InteropServices;

namespace RawLongLoRA.Bench;

/// <summary>
/// How much the process's peak resident set grows over a call, on Linux: free heap memory is handed back
/// to the OS (malloc_trim) and the GC collects, so the baseline holds no cached pages a call could reuse
/// unseen; writing "5" to /proc/self/clear_refs resets VmHWM (the peak) to the current VmRSS; after the
/// call, VmHWM − that VmRSS is the growth. It counts everything the call touched for the first time —
/// the kernel's buffers, thread stacks, pages the allocator took — so it bounds the kernel's own count
/// from above. Null where /proc does not allow it.
/// </summary>
internal static partial class PeakResidentMemory
{
    public static long? Growth(Action call)
    {
        if (!OperatingSystem.IsLinux())
        {
            call();
            return null;
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        _ = MallocTrim(0);
        long? before = null;
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            before = StatusKiB("VmRSS");
        }
        catch (IOException)
        {
            // Older kernels or a locked-down /proc: no peak reset, no figure.
        }
        catch (UnauthorizedAccessException)
        {
        }
        call();
        return before is { } b ? (StatusKiB("VmHWM") - b) * 1024 : null;
    }

    private static long StatusKiB(string field)
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(field.Length + 1).Trim().TrimEnd("kB").Trim());
        throw new InvalidOperationException($"/proc/self/status has no {field}");
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
