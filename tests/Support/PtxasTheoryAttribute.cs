using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>A theory that needs NVIDIA's PTX assembler (see <see cref="CudaToolkit"/>).</summary>
public sealed class PtxasTheoryAttribute : TheoryAttribute
{
    /// <summary>The ptxas found on the PATH, or null.</summary>
    public static string? Path => CudaToolkit.Ptxas;

    public PtxasTheoryAttribute()
    {
        if (CudaToolkit.Missing(needsNvcc: false) is { } why && !CudaToolkit.Required)
            Skip = why;
    }
}
