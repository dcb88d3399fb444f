using System.Runtime.InteropServices;

namespace RawLongLoRA.Bench;

/// <summary>
/// This process's CPU time, user and system, all threads together (getrusage): what `bench gemm --cpu-time`
/// times, so that on a machine other processes load, a run that waited for a core does not read as slower work.
/// </summary>
internal static unsafe partial class ProcessCpuTime
{
    /// <summary>Seconds of CPU time this process has used so far (microsecond resolution).</summary>
    public static double Seconds()
    {
        // struct rusage on 64-bit Linux starts with ru_utime and ru_stime, each (seconds, microseconds).
        long* usage = stackalloc long[18];
        if (!OperatingSystem.IsLinux() || GetRUsage(0, usage) != 0)
            throw new PlatformNotSupportedException("bench: --cpu-time reads getrusage, on 64-bit Linux only");
        return usage[0] + usage[2] + (usage[1] + usage[3]) * 1e-6;
    }

    [LibraryImport("libc.so.6", EntryPoint = "getrusage")]
    private static partial int GetRUsage(int who, long* usage);
}
