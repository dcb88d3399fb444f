using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The dotnet command line, for tests that pack, build or run the samples as a user would.</summary>
internal static class DotnetCli
{
#if DEBUG
    public const string Configuration = "Debug";
#else
    public const string Configuration = "Release";
#endif

    /// <summary>
    /// Runs dotnet and returns its output, failing with it on a non-zero exit. No MSBuild nodes or compiler
    /// server outlive the call: they would hold its output pipes open.
    /// </summary>
    public static string Run(string workDir, string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var env = new Dictionary<string, string>(environment ?? new Dictionary<string, string>())
        {
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1", ["MSBUILDDISABLENODEREUSE"] = "1", ["UseSharedCompilation"] = "false",
        };
        var (exitCode, output) = ChildProcess.Run("dotnet", args, workDir, env);
        Assert.True(exitCode == 0, $"dotnet {string.Join(' ', args)} exited with {exitCode}:\n{output}");
        return output;
    }
}
