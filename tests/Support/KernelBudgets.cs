using System.Globalization;
using System.Text.RegularExpressions;

namespace RawLongLoRA.Tests;

/// <summary>
/// The budget lines of a kernels.cu source's header, `// budget: &lt;kernel&gt; registers&lt;=N shared&lt;=BYTES`: what
/// ptxas may report for each kernel and what its launches may ask for in all.
/// </summary>
internal static partial class KernelBudgets
{
    /// <summary>The budgets of kernels.cu/<paramref name="file"/>.cu by kernel.</summary>
    public static Dictionary<string, (int Registers, long SharedBytes)> Of(string file)
        => Read(File.ReadAllText(Path.Combine(Repository.Root, "kernels.cu", file + ".cu")));

    /// <summary>The budget lines in <paramref name="source"/> by kernel.</summary>
    public static Dictionary<string, (int Registers, long SharedBytes)> Read(string source)
        => Line().Matches(source).ToDictionary(m => m.Groups[1].Value,
            m => (int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture)));

    [GeneratedRegex(@"^//\s*budget:\s*(\w+)\s+registers<=(\d+)\s+shared<=(\d+)", RegexOptions.Multiline)]
    private static partial Regex Line();
}
