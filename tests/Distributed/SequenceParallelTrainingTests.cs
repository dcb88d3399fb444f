using RawLongLoRA.MpiWorker;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The acceptance check on in-process ranks: a tiny model's loss and every trainable gradient under Ulysses,
/// Ring (plain and zig-zag) and a DP × SP grid equal the single-process step within 1e-5, under causal, packed and
/// S2-Attn masks (the training-step scenario; mpirun runs it too).
/// </summary>
public class SequenceParallelTrainingTests
{
    [Theory]
    [InlineData(2, "ulysses", 2, "")]
    [InlineData(4, "ulysses", 4, "")]
    [InlineData(2, "ring", 2, "plain")]
    [InlineData(2, "ring", 2, "zigzag")]
    [InlineData(4, "ring", 4, "zigzag")]
    [InlineData(4, "ulysses", 2, "")]
    [InlineData(4, "ring", 2, "zigzag")]
    [InlineData(4, "ring", 2, "plain")]
    public void The_loss_and_every_gradient_equal_the_single_process_step(int ranks, string sp, int spSize, string layout)
        => ThreadGroup.Run(ranks, world => TrainingScenarios.TrainingStep(world, [sp, $"{spSize}", layout]));
}
