using System.Diagnostics;
using RawLongLoRA.Distributed;
using RawLongLoRA.Model;
using RawLongLoRA.Training;

namespace RawLongLoRA.Bench.Sp;

/// <summary>
/// One LongLoRA training step on one rank's share of a row — forward, backward with gradient checkpointing, the
/// trained tensors' gradients summed over the ranks, AdamW — or on the whole row in one process. Every rank draws the
/// same random row and takes its positions (<see cref="SequenceShards"/>); targets are shifted on the whole row first,
/// so a shard's last token predicts the next shard's first. The loss is each rank's mean: the bench times the step, it
/// does not train.
/// </summary>
internal sealed class SpStep : IDisposable
{
    private readonly ModelConfig _config;
    private readonly int _seq;
    private readonly CountingCommunicator? _group;
    private readonly SequenceShards? _shards;
    private readonly CausalLM _model;
    private readonly AdamW _optimizer;
    private int _steps;

    /// <summary>A step on <paramref name="group"/>'s ranks with <paramref name="kind"/>'s attention, or on one process when it is null.</summary>
    public SpStep(ModelConfig config, LoraConfig lora, int seq, CountingCommunicator? group, SequenceParallel kind)
    {
        (_config, _seq, _group) = (config, seq, group);
        _model = new CausalLM(config, new RandomParameters(0));
        _model.ExtendContext(seq);
        _model.AddAdapter("default", lora, seed: 0);
        _model.GradientCheckpointing = true;
        if (group is not null)
        {
            bool zigZag = kind == SequenceParallel.Ring;
            _shards = new SequenceShards(seq, group.Size, zigZag);
            _model.AttentionStrategy = zigZag ? new RingAttention(group, zigZag) : new UlyssesAttention(group);
        }
        _optimizer = new AdamW(_model.TrainableParameters(), new AdamWOptions { Lr = 1e-4f });
    }

    /// <summary>One step; its seconds on this rank.</summary>
    public double Run()
    {
        var random = new Random(_steps++);
        long[] ids = [.. Enumerable.Range(0, _seq).Select(_ => (long)random.Next(_config.VocabSize))];
        long[] targets = [.. ids.Skip(1), TrainingBatch.IgnoreIndex];
        long[] positions = [.. Enumerable.Range(0, _seq).Select(p => (long)p)];
        int rank = _group?.Rank ?? 0;
        if (_shards is not null)
            (ids, targets, positions) = (_shards.Take(ids, rank), _shards.Take(targets, rank), _shards.Take(positions, rank));
        var spec = new AttentionSpec { GroupSize = _seq / 4, RowLength = _seq };
        _group?.Barrier();
        var clock = Stopwatch.StartNew();
        using (var scope = new DisposeScope())
        {
            var hidden = _model.Hidden(Tensor.FromArray(ids, [1, ids.Length]), Tensor.FromArray(positions), spec, positionEnd: _seq);
            var loss = hidden.Reshape(ids.Length, -1).LinearCrossEntropy(_model.HeadWeight, Tensor.FromArray(targets));
            loss.Backward();
        }
        // Every rank saw part of the row: its gradients are partial sums, as a data-parallel rank's are.
        if (_group is not null)
            foreach (var (_, parameter) in _model.TrainableParameters())
                if (parameter.Grad is { } grad)
                    _group.AllReduce(grad);
        _optimizer.Step();
        _optimizer.ZeroGrad();
        return clock.Elapsed.TotalSeconds;
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _model.Dispose();
    }
}
