using System.Diagnostics;
using RawLongLoRA.Distributed;
using RawLongLoRA.Model;
using RawLongLoRA.Training;

namespace RawLongLoRA.Bench.Sp;

/// <summary>
/// One LongLoRA training step as the trainer runs it — <see cref="ParallelStep"/> on a <see cref="ParallelGrid"/> whose
/// ranks all share the row (forward, backward with gradient checkpointing, the gradients summed over the ranks), then
/// AdamW — or on the whole row in one process. Every rank draws the same random row, one document of the whole length.
/// </summary>
internal sealed class SpStep : IDisposable
{
    private readonly int _seq;
    private readonly int _vocab;
    private readonly CausalLM _model;
    private readonly ParallelGrid? _grid;
    private readonly ParallelStep _step;
    private readonly AdamW _optimizer;
    private int _steps;

    /// <summary>A step on <paramref name="world"/>'s ranks with <paramref name="kind"/>'s attention (Ring zig-zag), or on one process when it is null.</summary>
    public SpStep(ModelConfig config, LoraConfig lora, int seq, ICommunicator? world, SequenceParallel kind)
    {
        (_seq, _vocab) = (seq, config.VocabSize);
        _model = new CausalLM(config, new RandomParameters(0));
        try
        {
            _model.ExtendContext(seq);
            _model.AddAdapter("default", lora, seed: 0);
            _model.GradientCheckpointing = true;
            _model.Train();
            var trainable = _model.TrainableParameters();
            _grid = world is null ? null : new ParallelGrid(world, world.Size);
            _step = new ParallelStep(_model, [.. trainable.Select(p => p.Tensor)], _grid, kind);
            _optimizer = new AdamW(trainable, new AdamWOptions { Lr = 1e-4f });
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The group that shares the row (its attention traffic goes there), or null in one process.</summary>
    public ICommunicator? Sp => _grid?.Sp;

    /// <summary>One step; its seconds on this rank.</summary>
    public double Run()
    {
        var random = new Random(_steps++);
        long[] ids = [.. Enumerable.Range(0, _seq).Select(_ => (long)random.Next(_vocab))];
        var row = new TrainingBatch(1, _seq, ids, [.. ids.Skip(1), TrainingBatch.IgnoreIndex], [.. Enumerable.Range(0, _seq).Select(p => (long)p)], [0]);
        _grid?.World.Barrier();
        var clock = Stopwatch.StartNew();
        using (var loss = Tensor.Zeros([1]))
            _step.Run([row], _seq / 4, Precision.F32, loss);
        _optimizer.Step();
        _optimizer.ZeroGrad();
        return clock.Elapsed.TotalSeconds;
    }

    public void Dispose()
    {
        _optimizer?.Dispose();
        _step?.Dispose();
        _grid?.Dispose();
        _model.Dispose();
    }
}
