using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>A custom loop's checkpoints: trained tensors and AdamW state back into other tensors, exactly; a mismatch changes nothing.</summary>
public sealed class TrainingCheckpointsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rawlora-training-checkpoints-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A loop's own state: anything System.Text.Json round-trips.</summary>
    public sealed record LoopState(int Step, ulong RngOffset);

    private static (string Name, Tensor Tensor)[] Parameters(int seed) =>
    [
        ("a", Tensor.Randn([3, 4], new Generator((ulong)seed), requiresGrad: true)),
        ("b", Tensor.Randn([5], new Generator((ulong)seed + 1), requiresGrad: true)),
    ];

    /// <summary>Two AdamW steps on a fixed gradient, so the state has moments and a step count.</summary>
    private static void TrainTwoSteps((string Name, Tensor Tensor)[] parameters, AdamW optimizer)
    {
        for (int step = 0; step < 2; step++)
        {
            foreach (var (_, p) in parameters)
                p.Grad = Tensor.Full(p.ShapeArray, 0.5 + step).DetachFromScope();
            optimizer.Step();
            optimizer.ZeroGrad();
        }
    }

    [Fact]
    public void RestoreGivesTheSavedTensorsStateAndNextUpdate()
    {
        using var scope = new DisposeScope();
        var trained = Parameters(1);
        using var optimizer = new AdamW(trained, new AdamWOptions { Lr = 0.1f });
        TrainTwoSteps(trained, optimizer);
        var saved = new TrainingCheckpoints(_dir, 2, trained, optimizer).Save(2, new LoopState(2, 77));
        Assert.Equal(Path.Combine(_dir, "checkpoint-2"), saved.Path);

        var fresh = Parameters(9);
        using var freshOptimizer = new AdamW(fresh, new AdamWOptions { Lr = 0.1f });
        var checkpoints = new TrainingCheckpoints(_dir, 2, fresh, freshOptimizer);
        Assert.Equal(new LoopState(2, 77), checkpoints.Restore<LoopState>(checkpoints.Store.Latest()!.Path));
        for (int i = 0; i < trained.Length; i++)
            Assert.Equal(trained[i].Tensor.ToFloatArray(), fresh[i].Tensor.ToFloatArray());

        // The moments and step counts came back too: one more update is the same on both sides.
        TrainTwoSteps(trained, optimizer);
        TrainTwoSteps(fresh, freshOptimizer);
        for (int i = 0; i < trained.Length; i++)
            Assert.Equal(trained[i].Tensor.ToFloatArray(), fresh[i].Tensor.ToFloatArray());
    }

    [Fact]
    public void ACheckpointOfOtherShapesIsRefusedAndChangesNothing()
    {
        using var scope = new DisposeScope();
        var trained = Parameters(1);
        using var optimizer = new AdamW(trained);
        TrainTwoSteps(trained, optimizer);
        new TrainingCheckpoints(_dir, 1, trained, optimizer).Save(2, new LoopState(2, 0));

        (string Name, Tensor Tensor)[] other = [trained[0], ("b", Tensor.Zeros([6], requiresGrad: true))];
        using var otherOptimizer = new AdamW(other);
        var before = other.Select(p => p.Tensor.ToFloatArray()).ToList();
        var error = Assert.Throws<TrainingException>(() => new TrainingCheckpoints(_dir, 1, other, otherOptimizer).Restore<LoopState>(Path.Combine(_dir, "checkpoint-2")));
        Assert.Contains("'b' of shape [6]", error.Message);
        Assert.Equal(before, other.Select(p => p.Tensor.ToFloatArray()));
        Assert.Empty(otherOptimizer.ExportState());
    }
}
