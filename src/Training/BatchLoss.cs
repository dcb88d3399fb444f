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
    public static Tensor Of(Model.CausalLM model, TrainingBatch batch, int groupSize = 0)
    {
        var device = model.Device;
        var starts = PackedStarts.Of(batch.SequenceStarts, (long)batch.Rows * batch.Length, device);
        var spec = new AttentionSpec { GroupSize = groupSize, SequenceStarts = starts };
        var ids = Tensor.FromArray(batch.Ids, [batch.Rows, batch.Length], device);
        // The batch is on the host: its largest position costs nothing to read here, and a device read in Hidden.
        int positionEnd = (int)batch.Positions.Max() + 1;
        var hidden = model.Hidden(ids, Tensor.FromArray(batch.Positions, device: device), spec, positionEnd: positionEnd);
        return hidden.Reshape(batch.Rows * batch.Length, -1).LinearCrossEntropy(model.HeadWeight, Tensor.FromArray(batch.Targets, device: device));
    }
}
