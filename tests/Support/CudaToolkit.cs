using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// NVIDIA's compiler and assembler as the device build uses them (kernels.cu/build-ptx.sh): nvcc, ptxas and clang-14
/// (nvcc 11.8's host compiler) on the PATH. Where they are missing their tests skip, saying so, unless
/// <c>RAWLORA_REQUIRE_NVCC=1</c> (set by build.sh test wherever it could install them): then they run and fail.
/// </summary>
internal static class CudaToolkit
{
    public const string RequireVariable = "RAWLORA_REQUIRE_NVCC";

    /// <summary>ptxas on the PATH, or null.</summary>
    public static readonly string? Ptxas = ProgramPath.Find("ptxas");

    /// <summary>nvcc on the PATH, or null.</summary>
    public static readonly string? Nvcc = ProgramPath.Find("nvcc");

    /// <summary>Why the PTX tests cannot run here, or null.</summary>
    public static string? Missing(bool needsNvcc)
        => Ptxas is null ? "ptxas is not installed (apt-get install nvidia-cuda-toolkit, from Debian's non-free component; ./build.sh test does it as root)"
         : needsNvcc && (Nvcc is null || ProgramPath.Find("clang-14") is null) ? "nvcc or clang-14 is not installed (apt-get install nvidia-cuda-toolkit clang-14; ./build.sh test does it as root)"
         : null;

    public static bool Required => Environment.GetEnvironmentVariable(RequireVariable) == "1";
}

/// <summary>A test that needs nvcc, ptxas and clang-14 (see <see cref="CudaToolkit"/>).</summary>
public sealed class NvccFactAttribute : FactAttribute
{
    public NvccFactAttribute()
    {
        if (CudaToolkit.Missing(needsNvcc: true) is { } why && !CudaToolkit.Required)
            Skip = why;
    }
}
