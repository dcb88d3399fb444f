using RawLongLoRA.Distributed;
using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// Forward and backward of one optimizer step on this rank, giving the loss and gradients one process would get from
/// the same global batches. Each global batch holds batch_size × DP rows; data-parallel rank d takes rows
/// [d·batch_size, (d+1)·batch_size), and under sequence parallelism SP rank s takes its shard of each of them. The
/// loss is the token-weighted mean over every counted target of the step: each rank backpropagates (sum of its
/// token losses) / (counted targets over the world, all-reduced before backward), so a rank whose tokens count for
/// nothing contributes 0, never NaN; the gradients are then summed over the world by <see cref="DataParallel"/>
/// (its remarks say why the world) and the logged loss too, so every rank clips the same gradients by the same,
/// global, norm. Without a grid it is the single-process step.
/// </summary>
public sealed class ParallelStep : IDisposable
{
    private readonly CausalLM _model;
    private readonly ParallelGrid? _grid;
    private readonly SequenceParallel _kind;
    private readonly bool _zigZag;
    private readonly DataParallel? _dataParallel;

    /// <summary>
    /// The step of <paramref name="model"/> on this rank of <paramref name="grid"/> (null: one process), whose
    /// gradients of <paramref name="trainable"/> are reduced; sets the model's attention strategy to the
    /// <paramref name="kind"/> of sequence parallelism (Ring with <paramref name="zigZag"/> blocks) on the grid's SP group.
    /// </summary>
    public ParallelStep(CausalLM model, IReadOnlyList<Tensor> trainable, ParallelGrid? grid, SequenceParallel kind = SequenceParallel.None, bool zigZag = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (grid is null && kind != SequenceParallel.None)
            throw new ArgumentException($"parallel step: {kind} sequence parallelism needs a parallel grid of ranks; a single process has none", nameof(kind));
        (_model, _grid, _kind, _zigZag) = (model, grid, kind, zigZag);
        if (grid?.Strategy(kind, zigZag) is { } strategy)
            model.AttentionStrategy = strategy;
        if (grid is not null && trainable.Count > 0)
            _dataParallel = new DataParallel(grid.World, trainable);
    }

    /// <summary>Data-parallel ranks: a global batch holds this many times batch_size rows.</summary>
    public int DpSize => _grid?.DpSize ?? 1;

    /// <summary>
    /// The rows of <paramref name="global"/> this rank's data-parallel place holds: the d-th of DP equal runs of rows,
    /// with the sequence starts that fall in them.
    /// </summary>
    public TrainingBatch Local(TrainingBatch global)
    {
        if (global.Rows % DpSize != 0)
            throw new ArgumentException($"parallel step: a global batch of {global.Rows} rows cannot be shared by {DpSize} data-parallel ranks; it must hold batch_size × {DpSize} rows", nameof(global));
        return DpSize == 1 ? global : global.RowsOf(_grid!.DpRank * (global.Rows / DpSize), global.Rows / DpSize);
    }

    /// <summary>
    /// Forward and backward over <paramref name="globalBatches"/> (the step's grad_accum global batches, the same on
    /// every rank) at <paramref name="precision"/>, with S2-Attn groups of <paramref name="groupSize"/> (0: off): the
    /// trainable tensors' gradients get the step's, summed over the ranks, and the step's loss is added into
    /// <paramref name="lossOut"/> ([1] float32 on the model's device, zero on entry), the same on every rank.
    /// </summary>
    public void Run(IReadOnlyList<TrainingBatch> globalBatches, int groupSize, Precision precision, Tensor lossOut)
    {
        var batches = globalBatches.Select(Local).ToList();
        var shards = _grid?.Shards(_kind, _zigZag, batches[0].Length);
        int spRank = _grid?.SpRank ?? 0;
        long counted = batches.Sum(b => (long)(shards is null ? b.CountedTargets : shards.Take(b.Targets, spRank).Count(t => t != TrainingBatch.IgnoreIndex)));
        if (_grid is not null)
            counted = WorldSum(counted);
        var backend = _model.Device.Backend;
        for (int b = 0; b < batches.Count; b++)
        {
            using var scope = new DisposeScope();
            Tensor sum;
            using (Autocast.Scope(precision))
                sum = BatchLoss.Sum(_model, batches[b], groupSize, shards, spRank);
            var share = sum.Scale((float)(1.0 / counted));
            backend.Binary(BinaryOp.Add, lossOut, lossOut, share.Reshape(1));
            // The last batch's backward finishes the gradients: buckets may start reducing during it.
            using (b == batches.Count - 1 ? _dataParallel?.Watch() : null)
                share.Backward();
        }
        if (_grid is null)
            return;
        _dataParallel?.ReduceGradients();
        _grid.World.AllReduce(lossOut);
    }

    private long WorldSum(long value)
    {
        using var t = Tensor.FromArray(new[] { value }, device: _model.Device);
        _grid!.World.AllReduce(t);
        return t.ToArray<long>()[0];
    }

    /// <summary>Frees the gradient buckets (the model and the grid are their owners').</summary>
    public void Dispose() => _dataParallel?.Dispose();
}
