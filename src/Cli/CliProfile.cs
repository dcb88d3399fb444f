using System.CommandLine;
using RawLongLoRA.Profiling;

namespace RawLongLoRA.Cli;

/// <summary>
/// --profile FILE on every verb: the verb runs under the profiler, then the Chrome trace goes to FILE,
/// the summary table beside it (FILE with .txt), and the table's top rows to the console.
/// </summary>
internal sealed class CliProfile : IDisposable
{
    public static readonly Option<string?> Option = new("--profile")
    {
        Description = "Record where time and memory go: a Chrome/Perfetto trace to FILE (open it in ui.perfetto.dev), the summary table beside it",
        HelpName = "FILE",
        Recursive = true,
    };

    private readonly ProfileSession _session;
    private readonly string _path;

    private CliProfile(ProfileSession session, string path) => (_session, _path) = (session, path);

    /// <summary>Starts recording when --profile was given, after checking that its file can be written.</summary>
    public static CliProfile? Start(ParseResult parse)
    {
        if (parse.GetValue(Option) is not { } path)
            return null;
        OutputPaths.File(path, "--profile");
        return new CliProfile(Profiler.Start(), path);
    }

    /// <summary>Stops recording, writes the trace and the table, and prints the table unless quiet.</summary>
    public void Finish(bool quiet)
    {
        _session.Stop();
        string table = _session.Save(_path);
        if (!quiet)
        {
            Console.WriteLine();
            Console.Write(_session.StepsOrWhole().Format(maxRows: 25));
        }
        Console.WriteLine($"profile: trace written to {_path} (open it in ui.perfetto.dev or chrome://tracing), summary to {table}");
    }

    public void Dispose() => _session.Stop();
}
