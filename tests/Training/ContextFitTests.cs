using RawLongLoRA.Distributed;
using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The longest context that fits, found in the one memory model.</summary>
public class ContextFitTests
{
    internal static string Llama2Dir => Path.Combine(AppContext.BaseDirectory, "reference", "models", "llama-2-7b");

    /// <summary>LongLoRA's recipe on Llama 2 7B: bf16 weights, r 8 on q,k,v,o, embedding and norms trained, on a GPU.</summary>
    internal static StepShape Llama2(bool checkpointing, int spSize = 1) => new()
    {
        Config = ModelFolder.Config(Llama2Dir),
        Lora = new TrainOptions().Lora,
        Tokens = 4096,
        WeightDtype = DType.BF16,
        GradientCheckpointing = checkpointing,
        SequenceParallel = spSize,
        SequenceKind = spSize > 1 ? SequenceParallel.Ring : SequenceParallel.None,
        Device = Device.Cuda(),
    };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheLongestContextFitsAndOneStepMoreDoesNot(bool checkpointing)
    {
        var shape = Llama2(checkpointing);
        const long memory = 80L << 30;

        int longest = ContextFit.Longest(shape, memory);

        Assert.True(longest > 0 && longest % ContextFit.Step == 0);
        Assert.True(StepMemory.Estimate(shape with { Tokens = longest }).Total <= memory);
        Assert.True(StepMemory.Estimate(shape with { Tokens = longest + ContextFit.Step }).Total > memory);
    }

    [Fact]
    public void CheckpointingReachesFurtherAndMoreMemoryFurtherStill()
    {
        int[] on = [.. new[] { 24L, 48, 80 }.Select(g => ContextFit.Longest(Llama2(true), g << 30))];
        int[] off = [.. new[] { 24L, 48, 80 }.Select(g => ContextFit.Longest(Llama2(false), g << 30))];

        Assert.True(on[0] < on[1] && on[1] < on[2]);
        Assert.True(off[0] <= off[1] && off[1] < off[2]);
        Assert.All(on.Zip(off), p => Assert.True(p.First > 4 * p.Second));
    }

    [Fact]
    public void SequenceParallelismDividesTheActivationsNotTheWeights()
    {
        int one = ContextFit.Longest(Llama2(true), 80L << 30), four = ContextFit.Longest(Llama2(true, spSize: 4), 80L << 30);
        var a = StepMemory.Estimate(Llama2(true) with { Tokens = 32768 });
        var b = StepMemory.Estimate(Llama2(true, spSize: 4) with { Tokens = 4 * 32768 });

        Assert.InRange(four, 3.5 * one, 4.0 * one);
        Assert.Equal(a.Weights - 4L * 32768 * 128, b.Weights - 4L * 4 * 32768 * 128); // replicated, but for the RoPE tables of the whole row
        Assert.Equal(a.Activations, b.Activations);
    }

    [Fact]
    public void NothingFitsWhereTheWeightsAloneDoNot()
    {
        Assert.Equal(0, ContextFit.Longest(Llama2(true), 8L << 30));
    }
}
