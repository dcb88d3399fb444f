using System.Text.Json.Nodes;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// What of the GPU machine's one command can run here: the shell scripts parse, the Python peers parse and answer
/// --help without torch, the GPU step peer says in one JSON line why it cannot serve, and gpu-check.sh refuses a
/// missing bundle in one line.
/// </summary>
public sealed class GpuScriptsTests
{
    private static readonly string[] PythonScripts = ["peft_check.py", "hf_step_peer.py", "gpu_check_summary.py", "attention_sdpa_peer.py"];

    private static (int ExitCode, string Output) Run(string program, params string[] args) => ChildProcess.Run(program, args, Repository.Root);

    [Theory]
    [InlineData("build.sh")]
    [InlineData("scripts/gpu-check.sh")]
    public void The_shell_scripts_parse(string script)
    {
        var (exit, output) = Run("bash", "-n", script);
        Assert.True(exit == 0, output);
    }

    [Fact]
    public void The_python_scripts_parse_and_answer_help_without_torch()
    {
        foreach (string name in PythonScripts)
        {
            string path = Path.Combine(Repository.Root, "bench", "peer", name);
            var (parsed, error) = Run("python3", "-c", "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])", path);
            Assert.True(parsed == 0, error);
            var (exit, help) = Run("python3", path, "--help");
            Assert.True(exit == 0, help);
            Assert.StartsWith($"usage: {name}", help);
        }
    }

    [Fact]
    public void The_gpu_step_peer_greets_or_says_why_not_in_one_json_line()
    {
        var (_, output) = Run("bash", "-c", "python3 bench/peer/hf_step_peer.py < /dev/null");
        var hello = JsonNode.Parse(output.Split('\n')[0])!;
        Assert.True(hello["torch"] is not null || hello["error"]!.GetValue<string>().StartsWith("hf_step_peer.py: "), output);
    }

    [Fact]
    public void Gpu_check_sh_without_the_bundle_says_what_to_run()
    {
        var (exit, output) = ChildProcess.Run("bash", ["scripts/gpu-check.sh"], Repository.Root,
            new Dictionary<string, string> { ["GPU_CHECK_BUNDLE"] = "/nonexistent/bench.tgz" });
        Assert.Equal(2, exit);
        Assert.Equal("gpu-check: /nonexistent/bench.tgz is missing; run ./build.sh publish-bench on the CPU machine and bring the working tree along", output.Trim());
    }
}
