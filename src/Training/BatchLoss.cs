using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// The loss of one packed batch: the model's hidden states with each document's own positions and
/// attention kept inside documents (and S2-Attn groups when training with them), then the LM head
/// and cross-entropy in vocabulary tiles, so the [tokens × vocab] logits never exist.
/// </summary>
public static class BatchLoss
{
    /// <summary>
    /// Mean over the batch's counted targets (NaN if none count, as PyTorch), on the model's device: the batch's ids,
    /// positions, targets and sequence starts are copied there, once each, and nothing is read back.
    /// </summary>
    public static Tensor Of(CausalLM model, TrainingBatch batch, int groupSize = 0) => Loss(model, batch, groupSize, null, 0, sum: false);

    /// <summary>
    /// Sum of the token losses over the counted targets (0 when none count), of the whole batch or, with
    /// <paramref name="shards"/>, of <paramref name="rank"/>'s share of every row (its ids, targets and positions taken
    /// by <see cref="SequenceShards.Take"/>; the attention spec still describes whole rows: RowLength and the sequence
    /// starts of the batch, for the model's sequence-parallel strategy). Targets were shifted on whole rows, so the
    /// last token of a shard predicts the first of the next. A data-parallel step divides it by the count over
    /// every rank, so that the ranks' losses add up to one process's mean.
    /// </summary>
    public static Tensor Sum(CausalLM model, TrainingBatch batch, int groupSize = 0, SequenceShards? shards = null, int rank = 0)
    {
        if (shards is not null && shards.Length != batch.Length)
            throw new ArgumentException($"batch loss: the sequence shards cut rows of {shards.Length} tokens, but the batch's rows hold {batch.Length}", nameof(shards));
        return Loss(model, batch, groupSize, shards, rank, sum: true);
    }

    private static Tensor Loss(CausalLM model, TrainingBatch batch, int groupSize, SequenceShards? shards, int rank, bool sum)
    {
        var device = model.Device;
        var starts = PackedStarts.Of(batch.SequenceStarts, (long)batch.Rows * batch.Length, device);
        var spec = new AttentionSpec { GroupSize = groupSize, SequenceStarts = starts, RowLength = batch.Length };
        var (ids, targets, positions) = shards is null
            ? (batch.Ids, batch.Targets, batch.Positions)
            : (shards.Take(batch.Ids, rank), shards.Take(batch.Targets, rank), shards.Take(batch.Positions, rank));
        int length = ids.Length / batch.Rows;
        var idTensor = Tensor.FromArray(ids, [batch.Rows, length], device);
        // The batch is on the host: its largest position costs nothing to read here, and a device read in Hidden.
        // RoPE's tables must cover the whole batch's positions: every rank of a sequence-parallel group agrees on them.
        int positionEnd = (int)batch.Positions.Max() + 1;
        var hidden = model.Hidden(idTensor, Tensor.FromArray(positions, device: device), spec, positionEnd: positionEnd);
        return hidden.Reshape(batch.Rows * length, -1).LinearCrossEntropy(model.HeadWeight, Tensor.FromArray(targets, device: device), sum: sum);
    }
}
