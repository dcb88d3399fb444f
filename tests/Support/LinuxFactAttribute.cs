using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>A test that needs Linux (POSIX signals sent with kill, mkfifo); skipped, with the reason shown, elsewhere.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
            Skip = "needs Linux: POSIX signals sent with kill, and mkfifo";
    }
}
