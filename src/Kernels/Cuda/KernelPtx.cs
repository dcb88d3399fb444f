using System.Reflection;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// The PTX of kernels.cu/, embedded in this assembly as ptx/&lt;file&gt;.sm_80.ptx and .sm_90.ptx (built by
/// kernels.cu/build-ptx.sh, committed beside the sources). A GPU of compute capability 9.x or later runs the sm_90
/// text, 8.x the sm_80 one; the driver compiles it for the exact device when the module loads.
/// </summary>
internal static class KernelPtx
{
    /// <summary>The PTX target for a GPU of compute capability <paramref name="major"/>.<paramref name="minor"/>.</summary>
    public static string TargetFor(int major, int minor) => major switch
    {
        >= 9 => "sm_90",
        8 => "sm_80",
        _ => throw new NotSupportedException(
            $"the tensor-core kernels of kernels.cu need compute capability 8.0 or later (mma.sync bf16, cp.async); this GPU is {major}.{minor}"),
    };

    /// <summary>The resource name of <paramref name="file"/>'s PTX for <paramref name="target"/>.</summary>
    public static string ResourceName(string file, string target) => $"ptx/{file}.{target}.ptx";

    /// <summary>The embedded PTX of kernels.cu/<paramref name="file"/>.cu for <paramref name="target"/>.</summary>
    public static byte[] Read(string file, string target)
    {
        string name = ResourceName(file, target);
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException(
                $"cuda: no embedded PTX '{name}' in RawLongLoRA.Kernels; kernels.cu/{file}.cu has no committed PTX (run ./build.sh kernels)");
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return bytes.ToArray();
    }

    /// <summary>The names of every embedded PTX resource.</summary>
    public static IEnumerable<string> ResourceNames()
        => Assembly.GetExecutingAssembly().GetManifestResourceNames().Where(n => n.StartsWith("ptx/", StringComparison.Ordinal));
}
