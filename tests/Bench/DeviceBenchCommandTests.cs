using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RawLongLoRA.Bench;
using Xunit;

namespace RawLongLoRA.Tests.Bench;

/// <summary>
/// `bench attention --device` and `bench lora` as commands: one line and exit 1 where CUDA is asked for on a machine
/// without it; end to end on ILGPU's CPU accelerator, every built-in variant that can run there validated and timed,
/// its figures in the JSON that scripts/gpu-check.sh's summary reads; the SDPA peer refuses in one line without a GPU.
/// </summary>
public sealed class DeviceBenchCommandTests
{
    private static readonly string Project = Path.Combine(Repository.Root, "bench");

    private static readonly string BenchDll = Path.Combine(Project, "bin", DotnetCli.Configuration, "net10.0", "bench.dll");

    private static (int ExitCode, string Output) Bench(params string[] args) => ChildProcess.Run("dotnet", [BenchDll, .. args], Project);

    [Theory]
    [InlineData("attention --device cuda")]
    [InlineData("lora")]
    [InlineData("lora --device cuda:0")]
    public void Without_cuda_it_says_so_in_one_line_and_exits_1(string command)
    {
        if (File.Exists("/dev/nvidia0"))
            return; // a GPU machine runs the real bench instead
        string[] args = command.Split(' ');
        var (exit, output) = Bench(args);
        Assert.Equal(1, exit);
        string line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"bench {args[0]}: no GPU: cuda:0: ", line);
    }

    [Theory]
    [InlineData("attention --device cuda --variant flash9", "bench attention: unknown variant 'flash9' (cpu-reference, ilgpu, cuda-c, cuda-c-atomic, all)")]
    [InlineData("attention --variant ilgpu", "bench attention: --variant picks among the device variants; give --device too")]
    [InlineData("attention --device cuda --head-dim 96", "bench attention: --seq wants positive integers")]
    [InlineData("lora --rank 8,x", "bench lora: --tokens and --features want one positive integer each")]
    [InlineData("lora --device tpu", "bench lora: --device must be cuda, cuda:N, ilgpu-cpu, not 'tpu'")]
    public void Bad_arguments_are_refused_in_one_line_before_a_device_is_sought(string command, string message)
    {
        string[] args = command.Split(' ');
        var (exit, output) = Bench(args);
        Assert.NotEqual(0, exit);
        Assert.StartsWith(message, Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public void On_the_cpu_accelerator_both_benches_validate_and_time_into_the_json_the_gpu_check_summary_reads()
    {
        using var dir = new TempFolder("rawlora-kernels-");
        var (exit, output) = Bench("attention", "--device", BenchDevice.CpuAccelerator, "--seq", "32", "--json", dir.File("attention.json"));
        Assert.True(exit == 0, output);
        Assert.Contains("cuda-c: not run on privateuseone:0 (kernels.cu's kernels run on CUDA only)", output);
        var records = Records(dir.File("attention.json"));
        foreach (string mask in new[] { "causal", "S2-Attn" })
        {
            foreach (string variant in new[] { "cpu-reference", "ilgpu" })
                Assert.StartsWith("ok: ", Single(records, "validation T=32 d64 H2/2", $"{mask} {variant}")["note"]!.GetValue<string>());
            foreach (string pass in new[] { "fwd", "fwd+bwd" })
                Assert.True(Single(records, $"{pass} T=32 d64 H4/4", $"{mask} ilgpu")["value"]!.GetValue<double>() > 0);
        }
        Assert.Single(records, r => r["name"]!.GetValue<string>() == "S2 speed-up T=32 d64 H4/4");

        (exit, output) = Bench("lora", "--device", BenchDevice.CpuAccelerator, "--tokens", "32", "--features", "48", "--json", dir.File("lora.json"));
        Assert.True(exit == 0, output);
        records = Records(dir.File("lora.json"));
        Assert.Equal(4, records.Count(r => r["name"]!.GetValue<string>() == "validation M=32 K=48 N=48 r=8" && r["note"]!.GetValue<string>().StartsWith("ok: ")));
        foreach (string name in new[] { "cuda-c-fused", "cuda-c-two-kernel", "cuda-c-op" })
            Assert.Contains($"{name}: not run on privateuseone:0 (kernels.cu's kernels run on CUDA only)", output);
        foreach (string pass in new[] { "fwd", "fwd+bwd" })
        {
            var ratio = Single(records, $"lora M=32 K=48 N=48 r=8 {pass} / plain", "cublas");
            Assert.Equal("× plain time", ratio["unit"]!.GetValue<string>());
            Assert.True(ratio["value"]!.GetValue<double>() > 0);
        }

        var (summaryExit, summary) = ChildProcess.Run("python3", [Path.Combine(Project, "peer", "gpu_check_summary.py"), dir.Path, "0", "0", "0", "0"], dir.Path);
        Assert.True(summaryExit == 0, summary);
        var lines = summary.Split('\n').Select(l => l.TrimEnd()).ToList();
        Assert.Contains("bench attention (exit 0) on no GPU named:", lines);
        Assert.Contains("bench lora (exit 0):", lines);
        foreach (string row in new[]
        {
            @"  fwd\+bwd T=32 d64 H4/4 +causal ilgpu +[0-9.]+ TFLOP/s", @"  S2 speed-up T=32 d64 H4/4 +ilgpu +×[0-9.]+",
            @"  lora M=32 K=48 N=48 r=8 fwd\+bwd / plain +cublas +×[0-9.]+ \(target ≤ 1.1: (met|not met)\)",
        })
            Assert.Contains(lines, l => Regex.IsMatch(l, $"^{row}$"));
        Assert.DoesNotContain(lines, l => l.Contains("FAILED"));
    }

    private static List<JsonNode> Records(string json) => JsonNode.Parse(File.ReadAllText(json))!["records"]!.AsArray().Select(r => r!).ToList();

    private static JsonNode Single(List<JsonNode> records, string name, string variant) =>
        records.Single(r => r["name"]!.GetValue<string>() == name && r["variant"]!.GetValue<string>() == variant);

    [Fact]
    public void The_sdpa_peer_without_a_gpu_says_why_in_one_json_line()
    {
        if (File.Exists("/dev/nvidia0"))
            return;
        var (_, output) = ChildProcess.Run("bash", ["-c", "python3 bench/peer/attention_sdpa_peer.py < /dev/null"], Repository.Root);
        var hello = JsonNode.Parse(output.Split('\n')[0])!;
        string error = hello["error"]!.GetValue<string>();
        Assert.True(error.StartsWith("no torch: ", StringComparison.Ordinal) || error.EndsWith("sees no CUDA GPU", StringComparison.Ordinal), error);

        Assert.Null(Peer.StartGpu("attention_sdpa_peer.py", out string reason));
        Assert.True(reason.StartsWith("no torch: ", StringComparison.Ordinal) || reason.EndsWith("sees no CUDA GPU", StringComparison.Ordinal)
                    || reason.Contains("cannot be started", StringComparison.Ordinal), reason);
    }
}
