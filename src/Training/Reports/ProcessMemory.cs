using System.Globalization;

namespace RawLongLoRA.Training;

/// <summary>
/// The process's resident set as Linux reports it in /proc/self/status: VmRSS (now) and VmHWM (its
/// peak). It counts what tensor bytes do not — the runtime, thread stacks, the allocator's cached
/// pages, memory-mapped weights that were touched — so it is what a user compares with the machine's
/// RAM. Null where there is no /proc.
/// </summary>
public static class ProcessMemory
{
    /// <summary>The resident set now (VmRSS), in bytes; null off Linux.</summary>
    public static long? ResidentBytes => KilobyteField("/proc/self/status", "VmRSS");

    /// <summary>
    /// The most resident bytes since the process started or since the peak was last reset (VmHWM); null off Linux.
    /// </summary>
    public static long? PeakResidentBytes => KilobyteField("/proc/self/status", "VmHWM");

    /// <summary>A "Field:   1234 kB" line of a /proc file, in bytes.</summary>
    internal static long? KilobyteField(string path, string field)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        try
        {
            foreach (string line in File.ReadLines(path))
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(field.Length + 1).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            // A locked-down /proc: no figure.
        }
        return null;
    }
}
