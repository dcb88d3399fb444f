using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The training-step scenario as separate processes under mpirun: data parallel at 2 ranks, and a 2 × 2 DP × SP grid
/// at 4 (Ring zig-zag; the in-process tests cover the other layouts and Ulysses), each against the single-process step
/// within 1e-5.
/// </summary>
[Collection(MpiRun.Collection)]
public class MpiTrainingTests
{
    [MpiTheory]
    [InlineData(2, "none", 1, "")]
    [InlineData(4, "ring", 2, "zigzag")]
    public void The_loss_and_every_gradient_equal_the_single_process_step(int ranks, string sp, int spSize, string layout)
    {
        string output = MpiRun.Pass(ranks, "training-step", sp, $"{spSize}", layout);
        Assert.Contains("s2 mask: loss", output);
    }
}
