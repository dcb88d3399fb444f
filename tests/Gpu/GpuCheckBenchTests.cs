using System.Text.Json.Nodes;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// `bench gpu-check` without a GPU: one line and a non-zero exit on cuda; its whole path (every primitive, the
/// training step, the files of the PEFT check, the JSON) on the CPU against itself, where everything must pass; and
/// on ILGPU's CPU accelerator, where a primitive without a kernel yet is a row, never a crash or a wrong pass.
/// </summary>
public sealed class GpuCheckBenchTests
{
    private static readonly string Project = Path.Combine(Repository.Root, "bench");

    /// <summary>The bench, which the test project builds (a reference that is not linked).</summary>
    private static readonly string BenchDll = Path.Combine(Project, "bin", DotnetCli.Configuration, "net10.0", "bench.dll");

    private static (int ExitCode, string Output) Bench(params string[] args) => ChildProcess.Run("dotnet", [BenchDll, "gpu-check", .. args], Project);

    [Fact]
    public void Without_a_gpu_it_says_so_in_one_line_and_exits_non_zero()
    {
        if (File.Exists("/dev/nvidia0"))
            return; // a GPU machine runs the real check instead
        var (exit, output) = Bench();
        Assert.Equal(1, exit);
        string line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("bench gpu-check: no GPU: cuda:0:", line);
    }

    [Fact]
    public void On_the_cpu_against_itself_every_check_passes_and_every_primitive_has_a_row()
    {
        using var dir = new TempFolder("rawlora-gpucheck-");
        var (exit, output) = Bench("--device", "cpu", "--out", dir.Path);
        Assert.True(exit == 0, output);
        var json = JsonNode.Parse(File.ReadAllText(dir.File("gpu-check.json")))!;
        Assert.True(json["passed"]!.GetValue<bool>());
        var rows = json["primitives"]!.AsArray().Concat(json["training_step"]!.AsArray()).ToList();
        Assert.All(rows, r => Assert.Equal(("ok", 0.0), (r!["status"]!.GetValue<string>(), r["max_relative_error"]!.GetValue<double>())));
        var primitives = typeof(IBackend).GetMethods().Select(m => m.Name).Except(["Allocate", "Free", "Synchronize", "get_Device"]);
        Assert.Empty(primitives.Except(json["primitives"]!.AsArray().Select(r => r!["check"]!.GetValue<string>())));
        Assert.Equal(2 * 3 + 2, json["training_step"]!.AsArray().Count); // fp32: two steps of three rows; bf16: one step's loss and gradients

        // The PEFT check's inputs are written here; Python with peft runs only on the GPU machine (else: skipped, saying why).
        Assert.Contains(json["peft"]!["status"]!.GetValue<string>(), new[] { "ok", "skipped" });
        foreach (string file in new[] { "base/config.json", "base/model.safetensors", "adapter/adapter_config.json", "adapter/adapter_model.safetensors", "expected.json" })
            Assert.True(File.Exists(Path.Combine(dir.Path, "peft", file)), $"peft/{file} was not written");
        Assert.Contains("PASSED; figures in", output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);

        // scripts/gpu-check.sh's last table reads these figures (step.json absent: that run is the GPU machine's).
        var (summaryExit, summary) = ChildProcess.Run("python3", [Path.Combine(Repository.Root, "bench", "peer", "gpu_check_summary.py"), dir.Path, "0", "0"], dir.Path);
        Assert.True(summaryExit == 0, summary);
        Assert.StartsWith("gpu-check on cpu (the CPU backend itself): PASSED (exit 0); ", summary);
        Assert.Contains("step.json: not there or not JSON", summary);
    }

    [Fact]
    public void On_the_cpu_accelerator_every_primitive_and_the_training_step_pass()
    {
        using var dir = new TempFolder("rawlora-gpucheck-");
        var (exit, output) = Bench("--device", "ilgpu-cpu", "--out", dir.Path);
        var json = JsonNode.Parse(File.ReadAllText(dir.File("gpu-check.json")))!;
        var rows = json["primitives"]!.AsArray().Concat(json["training_step"]!.AsArray()).Select(r => r!).ToList();
        foreach (var r in rows)
            Assert.True(r["status"]!.GetValue<string>() == "ok", $"{r["check"]} [{r["variant"]}]: {r["status"]} {r["detail"]}");
        Assert.True(json["passed"]!.GetValue<bool>(), output);
        Assert.True(exit == 0, output);
    }
}
