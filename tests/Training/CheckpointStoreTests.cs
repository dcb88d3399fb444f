using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Checkpoints: round trip, keep-last-N, atomicity under failure, what Latest() picks, bad files.</summary>
public sealed class CheckpointStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rawlora-checkpoints-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>What a trainer keeps: the step, the schedule, RNG and data positions, fault counters.</summary>
    public sealed record TrainerState(int Step, LrSchedule Schedule, ulong[] Rng, long DataCursor, Dictionary<string, int> Faults);

    private sealed class ThrowingState
    {
        public int Step => throw new InvalidOperationException("state serialisation failed");
    }

    private static TrainerState State(int step) =>
        new(step, LrSchedule.Parse("cosine", 2e-4f, 5, 100), [0xDEADBEEFUL, (ulong)step], 4096L * step, new() { ["nonfinite_grad"] = step % 3 });

    private static CheckpointFile[] Files(int step) =>
    [
        new("trainable.safetensors", [("lora_A", Tensor.FromArray([step, 2f, 3f], [3])), ("norm", Tensor.FromArray([0.5f * step], [1]))]),
        new("optimizer.safetensors", [("lora_A.step", Tensor.FromArray(new long[] { step }, []))]),
    ];

    private string[] Folders() => [.. Directory.EnumerateDirectories(_dir).Select(Path.GetFileName).OfType<string>().Order()];

    [Fact]
    public void SaveThenLoadGivesTheSameStateAndTensors()
    {
        using var scope = new DisposeScope();
        var store = new CheckpointStore(_dir, 3);
        var info = store.Save(7, Files(7), State(7));
        Assert.Equal(Path.Combine(_dir, "checkpoint-7"), info.Path);
        Assert.Equal(info, store.Latest());

        using var cp = CheckpointStore.Load<TrainerState>(info.Path);
        var expected = State(7);
        Assert.Equal(7, cp.Step);
        Assert.Equal((expected.Step, expected.Schedule, expected.DataCursor), (cp.State.Step, cp.State.Schedule, cp.State.DataCursor));
        Assert.Equal(expected.Rng, cp.State.Rng);
        Assert.Equal(expected.Faults, cp.State.Faults);
        Assert.Equal(["optimizer.safetensors", "trainable.safetensors"], cp.Tensors.Keys.Order());
        var trainable = cp.Tensors["trainable.safetensors"];
        Assert.Equal(["lora_A", "norm"], trainable.Select(e => e.Name));
        Assert.Equal([7f, 2f, 3f], trainable[0].Tensor.ToFloatArray());
        Assert.Equal([7L], cp.Tensors["optimizer.safetensors"][0].Tensor.ToArray<long>());
    }

    [Fact]
    public void KeepsTheLastNAndNoTemporaries()
    {
        using var scope = new DisposeScope();
        var store = new CheckpointStore(_dir, 2);
        foreach (int step in new[] { 10, 20, 30, 40, 50 })
            store.Save(step, Files(step), State(step));
        Assert.Equal(["checkpoint-40", "checkpoint-50"], Folders());
        Assert.Equal([40, 50], store.Complete().Select(c => c.Step));
    }

    [Fact]
    public void TheCheckpointJustSavedIsKeptEvenWhenNewerOnesExist()
    {
        using var scope = new DisposeScope();
        var store = new CheckpointStore(_dir, 2);
        store.Save(100, Files(100), State(100));
        store.Save(200, Files(200), State(200));
        store.Save(150, Files(150), State(150));
        Assert.Equal(["checkpoint-150", "checkpoint-200"], Folders());
    }

    [Fact]
    public void FailureWhileWritingTensorsLeavesEarlierCheckpointsIntact()
    {
        using var scope = new DisposeScope();
        var store = new CheckpointStore(_dir, 5);
        store.Save(1, Files(1), State(1));
        store.Save(2, Files(2), State(2));
        var before = File.ReadAllBytes(Path.Combine(_dir, "checkpoint-2", "trainable.safetensors"));

        // The second file's tensor dies after its header is written: the save fails half way through.
        var dead = Tensor.Zeros([4]);
        dead.Dispose();
        Assert.Throws<ObjectDisposedException>(() => store.Save(3, [Files(3)[0], new("optimizer.safetensors", [("x", dead)])], State(3)));

        Assert.Equal(["checkpoint-1", "checkpoint-2"], Folders());
        Assert.Equal(2, store.Latest()!.Step);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(_dir, "checkpoint-2", "trainable.safetensors")));
    }

    [Fact]
    public void FailureWhileWritingStateLeavesNoHalfCheckpoint()
    {
        using var scope = new DisposeScope();
        var store = new CheckpointStore(_dir, 5);
        store.Save(1, Files(1), State(1));
        Assert.Throws<InvalidOperationException>(() => store.Save(2, Files(2), new ThrowingState()));
        Assert.Equal(["checkpoint-1"], Folders());
    }

    [Fact]
    public void LatestIgnoresTemporaryIncompleteAndTornFoldersAndTheNextSaveCleansTemporaries()
    {
        using var scope = new DisposeScope();
        var store = new CheckpointStore(_dir, 10);
        store.Save(2, Files(2), State(2));
        store.Save(9, Files(9), State(9));
        // A torn copy: a file shorter than the manifest says.
        string torn = Path.Combine(_dir, "checkpoint-9", "trainable.safetensors");
        File.WriteAllBytes(torn, File.ReadAllBytes(torn)[..^4]);
        // A folder without its completion marker, and a crashed save's temporary folder that looks complete.
        CopyFolder(Path.Combine(_dir, "checkpoint-2"), Path.Combine(_dir, "checkpoint-7"));
        File.Delete(Path.Combine(_dir, "checkpoint-7", "checkpoint.json"));
        CopyFolder(Path.Combine(_dir, "checkpoint-2"), Path.Combine(_dir, ".tmp-checkpoint-11-0123abcd"));
        // A folder whose manifest is of another step.
        CopyFolder(Path.Combine(_dir, "checkpoint-2"), Path.Combine(_dir, "checkpoint-12"));

        Assert.Equal(2, store.Latest()!.Step);
        Assert.Contains("trainable.safetensors", Assert.Throws<CheckpointException>(() => CheckpointStore.Load<TrainerState>(Path.Combine(_dir, "checkpoint-9"))).Message);

        store.Save(10, Files(10), State(10));
        Assert.Equal(10, store.Latest()!.Step);
        Assert.Equal(["checkpoint-10", "checkpoint-12", "checkpoint-2", "checkpoint-7", "checkpoint-9"], Folders());
    }

    [Fact]
    public void SavingTheSameStepReplacesIt()
    {
        using var scope = new DisposeScope();
        var store = new CheckpointStore(_dir, 2);
        store.Save(4, Files(4), State(4));
        store.Save(4, Files(4), State(4) with { DataCursor = 99 });
        using var cp = CheckpointStore.Load<TrainerState>(store.Latest()!.Path);
        Assert.Equal(99, cp.State.DataCursor);
        Assert.Equal(["checkpoint-4"], Folders());
    }

    [Fact]
    public void CorruptTrainerStateThrowsNamingTheFile()
    {
        using var scope = new DisposeScope();
        var store = new CheckpointStore(_dir, 2);
        var info = store.Save(3, Files(3), State(3));
        string state = Path.Combine(info.Path, CheckpointStore.StateFileName);
        // Same length, so the manifest still holds and only the JSON is wrong.
        File.WriteAllBytes(state, File.ReadAllBytes(state).Select(_ => (byte)'{').ToArray());
        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Load<TrainerState>(info.Path));
        Assert.Equal(state, e.File);
        Assert.Contains(state, e.Message);
    }

    [Fact]
    public void OptimizerResumedFromACheckpointContinuesBitwise()
    {
        using var scope = new DisposeScope();
        var options = new AdamWOptions { WeightDecay = 0.01 };
        List<(string Name, Tensor Param)> Fresh() => [("w", Tensor.Randn([5, 3], new Generator(3)))];
        void Grad(Tensor p, int step) => p.Grad = Tensor.Randn([5, 3], new Generator((ulong)step + 10));

        var straight = Fresh();
        using var a = new AdamW(straight, options);
        for (int step = 0; step < 2; step++)
        {
            Grad(straight[0].Param, step);
            a.Step(1e-2f);
            a.ZeroGrad();
        }

        var first = Fresh();
        using (var b = new AdamW(first, options))
        {
            Grad(first[0].Param, 0);
            b.Step(1e-2f);
            b.ZeroGrad();
            new CheckpointStore(_dir, 1).Save(1, [new("trainable.safetensors", first), new("optimizer.safetensors", b.ExportState())], State(1));
        }
        using var cp = CheckpointStore.Load<TrainerState>(new CheckpointStore(_dir, 1).Latest()!.Path);
        var resumed = cp.Tensors["trainable.safetensors"].ToList();
        using var c = new AdamW(resumed, options);
        c.ImportState(cp.Tensors["optimizer.safetensors"]);
        Grad(resumed[0].Tensor, 1);
        c.Step(1e-2f);
        Assert.Equal(straight[0].Param.ToFloatArray(), resumed[0].Tensor.ToFloatArray());
    }

    [Fact]
    public void BadArgumentsThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CheckpointStore(_dir, 0));
        var store = new CheckpointStore(_dir, 1);
        Assert.Throws<ArgumentException>(() => store.Save(1, [new("../x.safetensors", [])], State(1)));
        Assert.Throws<ArgumentException>(() => store.Save(1, [new("a.safetensors", []), new("a.safetensors", [])], State(1)));
        Assert.Throws<ArgumentException>(() => store.Save(1, [new("trainer_state.json", [])], State(1)));
        Assert.Null(new CheckpointStore(Path.Combine(_dir, "none"), 1).Latest());
        Assert.Throws<CheckpointException>(() => CheckpointStore.Load<TrainerState>(_dir));
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.EnumerateFiles(from))
            File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }
}
