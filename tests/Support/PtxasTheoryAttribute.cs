using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// A theory that needs NVIDIA's PTX assembler: skipped, saying why, where no `ptxas` is on the PATH (Debian's comes with
/// nvidia-cuda-toolkit from the non-free component; see ../shared/GPU.md).
/// </summary>
public sealed class PtxasTheoryAttribute : TheoryAttribute
{
    /// <summary>The ptxas found on the PATH, or null.</summary>
    public static readonly string? Path = ProgramPath.Find("ptxas");

    public PtxasTheoryAttribute()
    {
        if (Path is null)
            Skip = "ptxas is not installed (apt-get install nvidia-cuda-toolkit, from Debian's non-free component)";
    }
}
