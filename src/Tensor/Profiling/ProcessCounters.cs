using System.Runtime.InteropServices;

namespace RawLongLoRA.Profiling;

/// <summary>
/// The process's page-fault counts and its CPU time in the kernel, from getrusage: the counts of
/// minflt/majflt in /proc/self/stat, at a syscall's cost instead of a file read's. Kernel time is
/// summed over threads and is mostly page faults (zeroing new pages) and thread wake-ups. All zero where
/// they cannot be read (not 64-bit Linux).
/// </summary>
internal static unsafe partial class ProcessCounters
{
    private static readonly bool Readable = OperatingSystem.IsLinux() && Environment.Is64BitProcess && Probe();

    public static (long MinorFaults, long MajorFaults, long SystemNs) Read()
    {
        if (!Readable)
            return (0, 0, 0);
        RUsage u;
        GetRUsage(0, &u);
        return (u.Fields[MinorField], u.Fields[MinorField + 1], u.Fields[SystemSeconds] * 1_000_000_000 + u.Fields[SystemSeconds + 1] * 1000);
    }

    private static bool Probe()
    {
        try
        {
            RUsage u;
            return GetRUsage(0, &u) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    // struct rusage on 64-bit Linux: ru_utime and ru_stime (timevals: seconds, microseconds), then
    // maxrss, ixrss, idrss, isrss, minflt, majflt, ...
    private const int SystemSeconds = 2;
    private const int MinorField = 8;

    private struct RUsage
    {
        public fixed long Fields[18];
    }

    [LibraryImport("libc.so.6", EntryPoint = "getrusage")]
    private static partial int GetRUsage(int who, RUsage* usage);
}
