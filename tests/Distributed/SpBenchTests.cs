using System.Text.RegularExpressions;
using Xunit;

namespace RawLongLoRA.Tests.Distributed;

/// <summary>`bench sp` end to end on a short row: it starts mpirun on itself, and what the ranks sent is what the formula says.</summary>
[Collection(MpiRun.Collection)]
public sealed class SpBenchTests
{
    private static readonly string Project = Path.Combine(Repository.Root, "bench");

    private static readonly string BenchDll = Path.Combine(Project, "bin", DotnetCli.Configuration, "net10.0", "bench.dll");

    [MpiFact]
    public void EachConfigurationSendsTheBytesItsFormulaCounts()
    {
        var (code, output) = ChildProcess.Run("dotnet", [BenchDll, "sp", "--seq", "64", "--steps", "1", "--ranks", "2", "--budget-mib", "256"], Project, timeoutSeconds: 120);

        Assert.True(code == 0, output);
        var rows = Regex.Matches(output, @"\n(train step T=64 +(ulysses|ring zig-zag), 2 ranks .*)");
        Assert.Equal(2, rows.Count);
        foreach (var row in rows.Cast<Match>().Select(m => m.Groups[1].Value))
        {
            var sent = Regex.Match(row, @"sent ([0-9,]+) B attention \(formula ([0-9,]+)\) \+ ([0-9,]+) B gradients \(formula ([0-9,]+)\)");
            Assert.True(sent.Success, row);
            Assert.NotEqual("0", sent.Groups[1].Value);
            Assert.Equal(sent.Groups[2].Value, sent.Groups[1].Value);
            Assert.Equal(sent.Groups[4].Value, sent.Groups[3].Value);
        }
    }
}
