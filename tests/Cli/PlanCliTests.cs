using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>rawlora plan prints what the library plans: the longest contexts first, then the step's breakdown.</summary>
[Collection(SerialCollection.Name)]
public class PlanCliTests
{
    [Fact]
    public void ItAnswersHowLongAContextFitsOnAGpuFirst()
    {
        var (code, output, err) = CliTests.Run("plan", "--model", Path.Combine(ContextFitTests.Llama2Dir, "config.json"), "--precision", "bf16",
                                               "--device", "cuda", "--memory", "80GiB", "--flops", "400T", "--context", "32768");

        Assert.True(code == 0, err);
        int on = ContextFit.Longest(ContextFitTests.Llama2(true), 80L << 30), off = ContextFit.Longest(ContextFitTests.Llama2(false), 80L << 30);
        Assert.Contains($"longest context in 80.00 GiB: {on:N0} tokens with gradient checkpointing, {off:N0} tokens without gradient checkpointing", output.Split('\n')[2]);
        var plan = StepMemory.Estimate(ContextFitTests.Llama2(true) with { Tokens = 32768 });
        Assert.Matches($@"\npeak +{Regex(plan.Total)} +", output);
        Assert.Matches($@"\nweights \(bfloat16, frozen\) +{Regex(plan.Weights)} +", output);
        double seconds = StepTime.Seconds(ContextFitTests.Llama2(true) with { Tokens = 32768 }, 400e12);
        Assert.Matches($@"\nstep time +{seconds:F2} s +", output);
    }

    [Fact]
    public void OnTheCpuItTimesAGemmAndPlansOneWayWhenAsked()
    {
        var (code, output, err) = CliTests.Run("plan", "--model", CausalLMTests.Dir("llama-gqa-tiny"), "--context", "1024", "--gradient-checkpointing", "false");

        Assert.True(code == 0, err);
        Assert.Contains("no checkpointing", output);
        Assert.Matches(@"\n +no checkpointing\n", output);
        Assert.Matches(@"\nstep time +[0-9.]+ m?s", output);
        Assert.Contains("a GEMM timed on this CPU", output);
        Assert.Contains("float32 frozen weights", output);
    }

    [Fact]
    public void ItPlansARingOfGpusPerRankWithTheBytesEachSends()
    {
        var (code, output, err) = CliTests.Run("plan", "--config", Path.Combine(ContextFitTests.Llama2Dir, "config.json"), "--sp", "ring", "--sp-size", "8",
                                               "--dp", "2", "--gpu-memory", "80GiB", "--gradient-checkpointing", "true", "--context", "65536");

        Assert.True(code == 0, err);
        var shape = ContextFitTests.Llama2(true, spSize: 8) with { DataParallel = 2 };
        int longest = ContextFit.Longest(shape, 80L << 30);
        Assert.Contains($"longest context in 80.00 GiB a rank: {longest:N0} tokens a row ({longest / 8:N0} a rank) with gradient checkpointing", output);
        var traffic = StepTraffic.Of(shape with { Tokens = 65536 });
        Assert.Matches($@"
gradient all-reduce over 16 ranks +{Regex((long)traffic.Gradients)}
", output);
        Assert.Matches($@"
ring backward +{Regex((long)traffic.Backward)}
", output);
    }

    [Theory]
    [InlineData("--sp-size 8", "--sp-size 8: say how the ranks share a row, --sp ulysses or --sp ring")]
    [InlineData("--sp ulysses --sp-size 3", "this model's 32 query heads and 32 KV heads do not divide among them")]
    [InlineData("--sp tree --sp-size 2", "--sp: 'tree' is not one of none, ulysses, ring")]
    [InlineData("--gpu-memory 80GB --device cpu", "--gpu-memory: it stands for --device cuda --memory")]
    public void ItRefusesSequenceParallelismItCannotPlan(string flags, string message)
    {
        var (code, _, err) = CliTests.Run(["plan", "--config", Path.Combine(ContextFitTests.Llama2Dir, "config.json"), "--memory", "80GiB", .. flags.Split(' ')]);

        Assert.NotEqual(0, code);
        Assert.Contains(message, err);
    }

    private static string Regex(long bytes) => System.Text.RegularExpressions.Regex.Escape(RawLongLoRA.Cli.CliRun.Bytes(bytes));
}
