using System.Diagnostics;

namespace RawLongLoRA.Tests;

/// <summary>Runs a program to its end and returns its exit code and its stdout and stderr, interleaved as they came.</summary>
internal static class ChildProcess
{
    public static (int ExitCode, string Output) Run(string program, IEnumerable<string> args, string workDir,
                                                   IReadOnlyDictionary<string, string>? environment = null, int timeoutSeconds = 300)
    {
        var info = new ProcessStartInfo(program) { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
            info.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            info.Environment[name] = value;
        using var process = Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        void Collect(object _, DataReceivedEventArgs e)
        {
            if (e.Data is not null)
                lock (output)
                    output.AppendLine(e.Data);
        }
        process.OutputDataReceived += Collect;
        process.ErrorDataReceived += Collect;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', info.ArgumentList)} ran past {timeoutSeconds} s:\n{output}");
        }
        process.WaitForExit(); // drains the output events
        lock (output)
            return (process.ExitCode, output.ToString());
    }
}
