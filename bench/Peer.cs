using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;

namespace RawLongLoRA.Bench;

/// <summary>
/// A peer script (bench/peer/*: PyTorch ones run by /usr/bin/python3, Hugging Face's tokenizers by
/// node) kept running for the whole verb, so that ours and the peer's timings of each shape alternate
/// in one run instead of an hour apart. The script prints one JSON line about itself, then answers
/// each JSON request line with one JSON line.
/// </summary>
public sealed class Peer : IDisposable
{
    public const string Python = "/usr/bin/python3";

    private readonly Process _process;

    private Peer(Process process, string name, JsonNode hello)
    {
        _process = process;
        Name = name;
        Hello = hello;
    }

    /// <summary>What the script said about itself, e.g. "PyTorch 1.13.0 with OpenBLAS 0.3.21 (core Cooperlake), 2 threads".</summary>
    public string Name { get; }

    /// <summary>The script's first line.</summary>
    public JsonNode Hello { get; }

    /// <summary>
    /// Starts the PyTorch peer bench/peer/{script} with `--threads N`, or returns null and why not. The peer first
    /// picks OpenBLAS's fastest core type whose product checks out (peer_protocol.py), and this prints what it tried.
    /// </summary>
    public static Peer? Start(string script, int threads, out string reason)
    {
        if (!File.Exists(Python))
        {
            reason = $"{Python} not found";
            return null;
        }
        // BLAS libraries size their own pools from these; the peer gets the threads we use.
        var environment = new Dictionary<string, string> { ["OMP_NUM_THREADS"] = threads.ToString(), ["OPENBLAS_NUM_THREADS"] = threads.ToString() };
        Console.WriteLine($"peer: {script} starting; it times OpenBLAS's core types first (a child process each)...");
        var peer = Start(Python, script, ["--threads", threads.ToString()], environment,
                         hello => hello["torch"] is null ? null : $"PyTorch {hello["torch"]} with {hello["blas"]} (core {hello["openblas_core"] ?? "unknown"}), {hello["threads"]} threads", out reason);
        if (peer?.Hello["openblas_cores"] is JsonArray cores)
            Console.WriteLine("peer: OpenBLAS core types (2048³ sgemm, 16 rows checked against a float64 product): "
                + string.Join(", ", cores.Select(c => c!["ok"]?.GetValue<bool>() == true
                    ? $"{c["asked"]} → {c["core"]} {2.0 * 2048 * 2048 * 2048 / c["seconds"]!.GetValue<double>() / 1e9:F0} GFLOP/s"
                    : $"{c["asked"]} → failed ({c["error"] ?? $"error {c["relative_error"]}"})"))
                + $"; using {peer.Hello["openblas_core"]}");
        return peer;
    }

    /// <summary>The Python of the GPU peers (torch with CUDA, transformers, peft): $RAWLORA_PYTHON, else python3 on the PATH.</summary>
    public static string GpuPython => Environment.GetEnvironmentVariable("RAWLORA_PYTHON") ?? "python3";

    /// <summary>
    /// Starts the GPU peer bench/peer/{script} (PyTorch on CUDA; Hugging Face transformers + PEFT where it says it has them),
    /// or returns null and why not.
    /// </summary>
    public static Peer? StartGpu(string script, out string reason) =>
        Start(GpuPython, script, [], [], hello => hello["torch"] is null ? null
            : $"PyTorch {hello["torch"]}" + (hello["transformers"] is { } t ? $", transformers {t}" : "") + (hello["peft"] is { } p ? $", peft {p}" : "") + $" on {hello["gpu"]}",
            out reason);

    /// <summary>
    /// Starts <paramref name="program"/> on bench/peer/{script}; <paramref name="describe"/> names the peer
    /// from its first line, or gives null when that line is not a greeting. Null and why not if it fails.
    /// </summary>
    public static Peer? Start(string program, string script, string[] arguments, Dictionary<string, string> environment,
                              Func<JsonNode, string?> describe, out string reason)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "peer", script);
        if (!File.Exists(path))
        {
            reason = $"{path} not found";
            return null;
        }
        var info = new ProcessStartInfo(program) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(path);
        foreach (string argument in arguments)
            info.ArgumentList.Add(argument);
        foreach (var (variable, value) in environment)
            info.Environment[variable] = value;
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            reason = $"{program} cannot be started ({e.Message})";
            return null;
        }
        var lastError = new StrongBox<string?>();
        process.ErrorDataReceived += (_, e) => lastError.Value = e.Data ?? lastError.Value; // drained, or a chatty peer blocks
        process.BeginErrorReadLine();
        string? line = process.StandardOutput.ReadLine();
        var hello = line is null ? null : JsonNode.Parse(line);
        if (hello is null || describe(hello) is not { } name)
        {
            process.WaitForExit(2000);
            reason = hello?["error"]?.GetValue<string>() ?? $"{script} said nothing ({lastError.Value ?? "no error output"})";
            process.Kill();
            process.Dispose();
            return null;
        }
        reason = "";
        return new Peer(process, name, hello);
    }

    /// <summary>Sends one request, waits for its answer and then for the peer to go idle.</summary>
    public JsonNode Ask(JsonObject request)
    {
        _process.StandardInput.WriteLine(request.ToJsonString());
        _process.StandardInput.Flush();
        string? line = _process.StandardOutput.ReadLine()
            ?? throw new InvalidOperationException($"peer {Name} exited (code {(_process.HasExited ? _process.ExitCode : -1)}) on {request.ToJsonString()}");
        WaitUntilIdle();
        return JsonNode.Parse(line)!;
    }

    /// <summary>
    /// BLAS and OpenMP worker threads spin for ~0.1 s after a call before they sleep; timing ours in that
    /// window would measure their spinning on our cores. Waits (up to 2 s) until the peer's CPU time
    /// stops growing over two polls.
    /// </summary>
    private void WaitUntilIdle()
    {
        var poll = TimeSpan.FromMilliseconds(30);
        var last = _process.TotalProcessorTime;
        for (int still = 0, polls = 0; still < 2 && polls < 66; polls++)
        {
            Thread.Sleep(poll);
            _process.Refresh();
            var now = _process.TotalProcessorTime;
            still = now - last < poll / 10 ? still + 1 : 0;
            last = now;
        }
    }

    public void Dispose()
    {
        _process.StandardInput.Close();
        if (!_process.WaitForExit(5000))
            _process.Kill();
        _process.Dispose();
    }
}
