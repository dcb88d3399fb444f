using System.Text.RegularExpressions;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>samples/KernelVariant: the variant it adds to the bench's registry is validated, then timed, by `bench ops`.</summary>
public sealed class KernelVariantSampleTests
{
    [Fact]
    public void TheBenchValidatesAndTimesTheSampleVariant()
    {
        string project = Path.Combine(Repository.Root, "samples", "KernelVariant");
        DotnetCli.Run(project, ["build", "-c", DotnetCli.Configuration]); // up to date already after a solution build
        string output = DotnetCli.Run(project, [Path.Combine("bin", DotnetCli.Configuration, "net10.0", "KernelVariant.dll"),
                                                "ops", "--only", "swiglu [4096x1376]", "--variant", "tensorprimitives", "--quick", "--no-peer"]);

        Assert.Contains("swiglu variant V2 tensorprimitives: ", output);
        Assert.DoesNotContain("FAILED", output);
        foreach (string pass in new[] { "fwd", "bwd" })
            Assert.Matches(new Regex($@"^swiglu \[4096x1376\] +{pass} tensorprimitives +[0-9.]+ +GB/s .*err [0-9.]+E-0\d\d$", RegexOptions.Multiline), output);
        Assert.DoesNotMatch(new Regex(@"^swiglu .* backend ", RegexOptions.Multiline), output); // --variant picked only V2
    }
}
