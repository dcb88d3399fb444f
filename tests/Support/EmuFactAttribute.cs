using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// A test that runs kernels of kernels.cu/ on the host emulation (<see cref="EmuRunner"/>), which g++ builds as Linux
/// shared libraries: skipped, saying why, elsewhere. On Linux a missing g++ fails the test with what to install.
/// </summary>
public sealed class EmuFactAttribute : FactAttribute
{
    public EmuFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
            Skip = EmuKernels.NotLinux;
    }
}

/// <summary>The theory form of <see cref="EmuFactAttribute"/>.</summary>
public sealed class EmuTheoryAttribute : TheoryAttribute
{
    public EmuTheoryAttribute()
    {
        if (!OperatingSystem.IsLinux())
            Skip = EmuKernels.NotLinux;
    }
}
