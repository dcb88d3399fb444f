using System.Globalization;
using System.Text.RegularExpressions;
using RawLongLoRA.Kernels.Cuda;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// kernels.cu's committed PTX: there for every source and both targets, embedded in the Kernels assembly as it is on
/// disk, what nvcc makes of the sources today, and within the budget each source's header promises when ptxas
/// assembles it (registers, shared memory, no spills).
/// </summary>
public sealed partial class KernelPtxTests
{
    private static readonly string Sources = Path.Combine(Repository.Root, "kernels.cu");
    private static readonly string Committed = Path.Combine(Sources, "ptx");
    private static readonly string[] Targets = ["sm_80", "sm_90"];

    private static string[] SourceNames() => Directory.GetFiles(Sources, "*.cu").Select(f => Path.GetFileNameWithoutExtension(f)).Order().ToArray();

    [Fact]
    public void EverySourceHasCommittedPtxForBothTargetsAndTheAssemblyEmbedsIt()
    {
        var names = SourceNames();
        Assert.Contains("flash_attention", names);
        Assert.Contains("lora", names);
        var expected = names.SelectMany(n => Targets.Select(t => $"{n}.{t}.ptx")).Order().ToArray();
        Assert.Equal(expected, Directory.GetFiles(Committed, "*.ptx").Select(Path.GetFileName).Order().ToArray());
        Assert.Equal(expected.Select(f => "ptx/" + f), KernelPtx.ResourceNames().Order().ToArray());
        foreach (var n in names)
            foreach (var t in Targets)
                Assert.Equal(File.ReadAllBytes(Path.Combine(Committed, $"{n}.{t}.ptx")), KernelPtx.Read(n, t));
    }

    [Fact]
    public void AMissingModuleSaysWhichSourceHasNoPtx()
    {
        var e = Assert.Throws<InvalidOperationException>(() => KernelPtx.Read("no_such_file", "sm_90"));
        Assert.Contains("kernels.cu/no_such_file.cu", e.Message);
        Assert.Contains("./build.sh kernels", e.Message);
    }

    [Theory]
    [InlineData(8, 0, "sm_80")]
    [InlineData(8, 9, "sm_80")]
    [InlineData(9, 0, "sm_90")]
    [InlineData(12, 0, "sm_90")]
    public void AGpuRunsTheNewestTargetItsComputeCapabilityTakes(int major, int minor, string target)
        => Assert.Equal(target, KernelPtx.TargetFor(major, minor));

    [Fact]
    public void AGpuOlderThanAmpereIsRefusedWithItsComputeCapability()
        => Assert.Contains("this GPU is 7.5", Assert.Throws<NotSupportedException>(() => KernelPtx.TargetFor(7, 5)).Message);

    /// <summary>Rebuilt PTX equals the committed files, byte for byte: a source edited without ./build.sh kernels fails here.</summary>
    [NvccFact]
    public void TheCommittedPtxIsWhatNvccMakesOfTheSources()
    {
        string release = NvccRelease(ChildProcess.Run(CudaToolkit.Nvcc!, ["--version"], Sources).Output);
        string committedRelease = NvccRelease(File.ReadAllText(Directory.GetFiles(Committed, "*.ptx")[0]));
        if (release != committedRelease && !CudaToolkit.Required)
            return; // another nvcc writes other PTX; only the toolkit the files came from can say they are stale
        Assert.Equal(committedRelease, release);

        using var dir = new TempFolder("rawlora-ptx-");
        var (exit, output) = ChildProcess.Run("bash", [Path.Combine(Sources, "build-ptx.sh"), dir.Path], Sources);
        Assert.True(exit == 0, $"kernels.cu/build-ptx.sh failed:\n{output}");
        foreach (var file in Directory.GetFiles(dir.Path, "*.ptx"))
        {
            string name = Path.GetFileName(file);
            string committed = Path.Combine(Committed, name);
            Assert.True(File.Exists(committed), $"kernels.cu/ptx/{name} is not committed (run ./build.sh kernels)");
            Assert.True(File.ReadAllText(file) == File.ReadAllText(committed), $"kernels.cu/ptx/{name} is stale: run ./build.sh kernels");
        }
    }

    /// <summary>Each kernel within its header's budget line, as ptxas -v reports it for both targets; no spills.</summary>
    [NvccFact]
    public void PtxasReportsNoSpillsAndTheRegistersAndSharedMemoryEachHeaderPromises()
    {
        foreach (var name in SourceNames())
        {
            var budgets = KernelBudgets.Of(name);
            Assert.True(budgets.Count > 0, $"kernels.cu/{name}.cu has no '// budget: <kernel> registers<=N shared<=BYTES' line");
            foreach (var target in Targets)
            {
                using var dir = new TempFolder("rawlora-ptxas-");
                var (exit, output) = ChildProcess.Run(CudaToolkit.Ptxas!, ["-v", "-arch=" + target, "-o", dir.File("k.cubin"), Path.Combine(Committed, $"{name}.{target}.ptx")], dir.Path);
                Assert.True(exit == 0, $"ptxas -arch={target} refused kernels.cu/ptx/{name}.{target}.ptx:\n{output}");
                var used = Ptxas(output);
                Assert.Equal(budgets.Keys.Order(), used.Keys.Order());
                foreach (var (kernel, u) in used)
                {
                    var b = budgets[kernel];
                    Assert.True(u.SpillBytes == 0, $"{kernel} ({target}) spills {u.SpillBytes} bytes");
                    Assert.True(u.Registers <= b.Registers, $"{kernel} ({target}) uses {u.Registers} registers; its header promises at most {b.Registers}");
                    Assert.True(u.SharedBytes <= b.SharedBytes, $"{kernel} ({target}) uses {u.SharedBytes} bytes of static shared memory; its header promises at most {b.SharedBytes} in all");
                }
            }
        }
    }

    [Fact]
    public void ThePtxasReportIsReadPerKernel()
    {
        const string report = """
            ptxas info    : 0 bytes gmem
            ptxas info    : Compiling entry function 'a_d64' for 'sm_90'
            ptxas info    : Function properties for a_d64
                0 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
            ptxas info    : Used 168 registers, 16384 bytes smem, 400 bytes cmem[0]
            ptxas info    : Compiling entry function 'b' for 'sm_90'
            ptxas info    : Function properties for b
                0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
            ptxas info    : Used 8 registers, 360 bytes cmem[0]
            """;
        var used = Ptxas(report);
        Assert.Equal((168, 16384L, 12L), used["a_d64"]);
        Assert.Equal((8, 0L, 0L), used["b"]);
        Assert.Equal((255, 49152L), KernelBudgets.Read("// budget: a_d64 registers<=255 shared<=49152\n")["a_d64"]);
    }

    private static string NvccRelease(string text) => ReleasePattern().Match(text) is { Success: true } m ? m.Groups[1].Value : "(unknown)";

    private static Dictionary<string, (int Registers, long SharedBytes, long SpillBytes)> Ptxas(string output)
    {
        var used = new Dictionary<string, (int, long, long)>();
        string? kernel = null;
        long spill = 0;
        foreach (var line in output.Split('\n'))
        {
            if (EntryPattern().Match(line) is { Success: true } e)
                (kernel, spill) = (e.Groups[1].Value, 0);
            else if (SpillPattern().Match(line) is { Success: true } s)
                spill = long.Parse(s.Groups[1].Value, CultureInfo.InvariantCulture) + long.Parse(s.Groups[2].Value, CultureInfo.InvariantCulture);
            else if (kernel is not null && UsedPattern().Match(line) is { Success: true } u)
            {
                long smem = u.Groups[2].Success ? long.Parse(u.Groups[2].Value, CultureInfo.InvariantCulture) : 0;
                used[kernel] = (int.Parse(u.Groups[1].Value, CultureInfo.InvariantCulture), smem, spill);
                kernel = null;
            }
        }
        return used;
    }

    [GeneratedRegex(@"release (\d+\.\d+)")]
    private static partial Regex ReleasePattern();

    [GeneratedRegex(@"Compiling entry function '(\w+)'")]
    private static partial Regex EntryPattern();

    [GeneratedRegex(@"(\d+) bytes spill stores, (\d+) bytes spill loads")]
    private static partial Regex SpillPattern();

    [GeneratedRegex(@"Used (\d+) registers(?:, (\d+) bytes smem)?")]
    private static partial Regex UsedPattern();
}
