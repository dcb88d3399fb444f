using System.Diagnostics;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Starts the MPI worker (tests/MpiWorker) under <c>mpirun -np N</c> on one scenario, on this machine over shared
/// memory, with a timeout after which the whole process tree is killed and the test fails with the output so far.
/// Test classes that use it join the <see cref="Collection"/>, so that jobs of several ranks do not share the cores.
/// </summary>
internal static class MpiRun
{
    /// <summary>The collection of mpirun tests: one job at a time.</summary>
    public const string Collection = "mpirun";

    /// <summary>Set to 1 (CI, `./build.sh test`) to fail instead of skipping the mpirun tests where mpirun is missing.</summary>
    public const string RequireVariable = "RAWLORA_REQUIRE_MPI";

    private static readonly Lazy<string?> Launcher = new(() => FindOnPath("mpirun"));

    /// <summary>Why the mpirun tests cannot run here (null where they can).</summary>
    public static string? Missing => Launcher.Value is null ? "mpirun is not on PATH: apt-get install openmpi-bin libopenmpi-dev (./build.sh test does it as root)" : null;

    /// <summary>Whether a missing mpirun fails the tests instead of skipping them.</summary>
    public static bool Required => Environment.GetEnvironmentVariable(RequireVariable) == "1";

    /// <summary>
    /// Runs <paramref name="scenario"/> on <paramref name="ranks"/> ranks and returns mpirun's exit code, every rank's
    /// output and how long the job took; <paramref name="environment"/> adds variables that every rank sees.
    /// </summary>
    public static (int ExitCode, string Output, TimeSpan Elapsed) Run(int ranks, string scenario, string[]? args = null, int timeoutSeconds = 60,
                                                                      IReadOnlyDictionary<string, string>? environment = null)
    {
        string mpirun = Launcher.Value ?? throw new InvalidOperationException(Missing);
        string worker = Path.Combine(AppContext.BaseDirectory, "RawLongLoRA.MpiWorker.dll");
        string[] command =
        [
            "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "dotnet", worker, scenario, .. args ?? [],
        ];
        var variables = new Dictionary<string, string>(environment ?? new Dictionary<string, string>())
        {
            // One machine: shared memory and self only, no network probing; no TCP out-of-band beyond loopback.
            ["OMPI_MCA_btl"] = "self,vader",
            ["OMPI_MCA_oob_tcp_if_include"] = "lo",
            ["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none",
            ["TERM"] = "dumb", // no terminal escapes from the ranks' consoles in the output
        };
        var clock = Stopwatch.StartNew();
        var (exitCode, output) = ChildProcess.Run(mpirun, command, AppContext.BaseDirectory, variables, timeoutSeconds);
        return (exitCode, output, clock.Elapsed);
    }

    /// <summary>Runs the scenario and fails the test, with every rank's output, unless the job exits 0.</summary>
    public static string Pass(int ranks, string scenario, params string[] args)
    {
        var (exitCode, output, _) = Run(ranks, scenario, args);
        Assert.True(exitCode == 0, $"mpirun -np {ranks} {scenario} exited with {exitCode}:\n{output}");
        return output;
    }

    private static string? FindOnPath(string program)
        => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
           .Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists);
}

/// <summary>The mpirun tests run one at a time.</summary>
[CollectionDefinition(MpiRun.Collection, DisableParallelization = true)]
public sealed class MpiRunCollection;

/// <summary>
/// A test that starts mpirun: skipped, with the reason shown, where mpirun is missing, unless
/// <c>RAWLORA_REQUIRE_MPI=1</c> (then it runs and fails).
/// </summary>
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute()
    {
        if (MpiRun.Missing is { } why && !MpiRun.Required)
            Skip = why;
    }
}

/// <summary>The theory form of <see cref="MpiFactAttribute"/>.</summary>
public sealed class MpiTheoryAttribute : TheoryAttribute
{
    public MpiTheoryAttribute()
    {
        if (MpiRun.Missing is { } why && !MpiRun.Required)
            Skip = why;
    }
}
