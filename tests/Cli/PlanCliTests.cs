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

    private static string Regex(long bytes) => System.Text.RegularExpressions.Regex.Escape(RawLongLoRA.Cli.CliRun.Bytes(bytes));
}
