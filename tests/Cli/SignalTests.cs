using System.Diagnostics;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// rawlora as a cluster's scheduler sees it: a child process sent SIGTERM (kill -TERM) while it
/// prepares its data, while it trains and while it evaluates, timed from the signal to its exit.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class SignalTests : IDisposable
{
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(8);

    private readonly string _dir = Directory.CreateTempSubdirectory("rawlora-signal-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Model => TinyModelFolder.Create(Path.Combine(_dir, "model"), "llama-gqa-tiny");

    /// <summary>Starts rawlora with <paramref name="args"/>, waits for a stdout line containing <paramref name="ready"/>, sends SIGTERM, and returns how it ended.</summary>
    private static (int ExitCode, TimeSpan Exit, string Stdout, string Stderr) TermWhen(string ready, params string[] args)
    {
        var info = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "rawlora")) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = new List<string>();
        var seen = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (stdout)
                stdout.Add(e.Data);
            if (e.Data.Contains(ready))
                seen.TrySetResult();
        };
        var stderr = process.StandardError.ReadToEndAsync();
        process.BeginOutputReadLine();
        try
        {
            Assert.True(seen.Task.Wait(TimeSpan.FromSeconds(60)), $"no line with '{ready}' within a minute: {string.Join("\n", stdout)} {(process.HasExited ? stderr.Result : "")}");
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()]))
                kill.WaitForExit();
            var clock = Stopwatch.StartNew();
            bool exited = process.WaitForExit(TimeSpan.FromSeconds(30));
            var took = clock.Elapsed;
            Assert.True(exited, "still running 30 s after SIGTERM");
            process.WaitForExit();
            lock (stdout)
                return (process.ExitCode, took, string.Join("\n", stdout), stderr.Result);
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
    }

    [LinuxFact]
    public void SigtermWhileTheDataIsReadExitsWithinSecondsAndTheSameCommandRunsAgain()
    {
        string model = Model, fifo = Path.Combine(_dir, "never-written.txt"), output = Path.Combine(_dir, "run");
        using (var mkfifo = Process.Start("mkfifo", [fifo]))
            mkfifo.WaitForExit();

        var (code, took, _, stderr) = TermWhen("tokenizing", "train", "--model", model, "--data", fifo, "--output", output, "--max-length", "32", "--max-steps", "1");

        Assert.Equal(143, code);
        Assert.True(took < Prompt, $"exited {took.TotalSeconds:F1} s after SIGTERM");
        Assert.Equal("rawlora: stopped", stderr.Trim().Split('\n')[^1]);
        Assert.DoesNotContain(Directory.GetFileSystemEntries(output), e => !Path.GetFileName(e).StartsWith("data-cache.tmp-")); // at most a writer's leftover

        string data = Path.Combine(_dir, "data.txt");
        File.WriteAllText(data, string.Concat(Enumerable.Repeat("hello world, again and again. ", 40)));
        Assert.Equal(0, CliTests.Run(["train", "--model", model, "--data", data, "--output", output, "--max-length", "32", "--max-steps", "1", "--quiet"]).Code);
    }

    [LinuxFact]
    public void SigtermWhileTrainingFinishesTheStepWritesACheckpointAndExits()
    {
        string model = Model, data = Path.Combine(_dir, "data.txt"), output = Path.Combine(_dir, "run");
        File.WriteAllText(data, string.Concat(Enumerable.Repeat("hello world, again and again. ", 40)));

        var (code, took, stdout, stderr) = TermWhen("step 2/", "train", "--model", model, "--data", data, "--output", output, "--max-length", "32", "--max-steps", "100000");

        Assert.Equal(0, code);
        Assert.True(took < Prompt, $"exited {took.TotalSeconds:F1} s after SIGTERM");
        Assert.Contains("rawlora: stopping after this step (a checkpoint will be written)", stderr);
        Assert.Contains("train: stopped at step", stdout);
        Assert.Single(Directory.GetDirectories(output, "checkpoint-*"));
    }

    [LinuxFact]
    public void SigtermWhileEvaluatingExitsWithinSeconds()
    {
        string model = Model, data = Path.Combine(_dir, "long.txt");
        File.WriteAllText(data, string.Concat(Enumerable.Repeat("a long document that takes a while to score. ", 20000)));

        var (code, took, _, _) = TermWhen("model:", "eval", "ppl", model, "--data", data, "--window", "128", "--stride", "1");

        Assert.Equal(143, code);
        Assert.True(took < Prompt, $"exited {took.TotalSeconds:F1} s after SIGTERM");
    }
}
