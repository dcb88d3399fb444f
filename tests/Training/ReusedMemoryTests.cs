using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;
using AdamW = RawLongLoRA.Training.AdamW;

namespace RawLongLoRA.Tests;

/// <summary>
/// Blocks from the caching allocator hold what their last user wrote, where fresh pages from the OS were
/// zero: a kernel that relied on a zeroed output would now read garbage. So a training step on reused
/// blocks must equal one on a cache just emptied, bit for bit (serial: it empties the process's cache).
/// </summary>
[Collection(SerialCollection.Name)]
public class ReusedMemoryTests
{
    [Fact]
    public void AStepOnReusedBlocksEqualsOneOnAnEmptiedCacheBitwise()
    {
        DeviceMemory.Of(Device.Cpu).ReleaseCached();
        var fresh = TwoSteps();
        long cached = HostAllocator.Shared.CachedBytes;
        Assert.True(cached > 1 << 20, $"{cached} bytes cached after a step"); // the second run gets the first's blocks
        var reused = TwoSteps();
        Assert.All(fresh, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(fresh, reused);
    }

    /// <summary>The losses and the trained tensors after two steps (S2-Attn, LoRA + embedding and norms, AdamW) of a small Llama.</summary>
    private static float[] TwoSteps()
    {
        var config = StepMemoryTests.Config(64, 160, 2, 97);
        using var model = new CausalLM(config, new RandomParameters(0));
        model.AddAdapter("default", new LoraConfig { ModulesToSave = LoraConfig.EmbeddingAndNorms }, 0);
        model.Train();
        using var optimizer = new AdamW(model.TrainableParameters(), new AdamWOptions { Lr = 1e-2f });
        var random = new Random(0);
        const int rows = 2, tokens = 128;
        var result = new List<float>();
        for (int step = 0; step < 2; step++)
        {
            long[] ids = [.. Enumerable.Range(0, rows * tokens).Select(_ => (long)random.Next(config.VocabSize))];
            long[] positions = [.. Enumerable.Range(0, rows * tokens).Select(p => (long)(p % tokens))];
            var batch = new TrainingBatch(rows, tokens, ids, [.. ids.Skip(1), TrainingBatch.IgnoreIndex], positions, [0, tokens]);
            using (new DisposeScope())
            {
                var loss = BatchLoss.Of(model, batch, tokens / 4);
                result.Add(loss.ToFloatArray()[0]);
                loss.Backward();
            }
            optimizer.Step();
            optimizer.ZeroGrad();
        }
        foreach (var p in model.TrainableParameters())
            result.AddRange(p.Tensor.ToFloatArray());
        return [.. result];
    }
}
