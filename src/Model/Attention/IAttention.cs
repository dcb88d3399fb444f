namespace RawLongLoRA.Model;

/// <summary>
/// How a model's attention layers compute attention over a batch's positions, chosen per model
/// (<see cref="CausalLM.AttentionStrategy"/>): the seam where sequence parallelism plugs in without touching
/// the layers. <see cref="LocalAttention"/> runs the flash kernel over whole rows; <see cref="BlockwiseAttention"/>
/// splits the rows into position blocks and merges the parts, the schedule Ring attention runs across
/// processes; Ulysses trades sequence shards for head shards around a local call (AttentionSpec.HeadStart
/// keeps S2-Attn's halves right on a subset of the heads).
/// </summary>
public interface IAttention
{
    /// <summary>
    /// o [B, T, Hq, D] from q [B, T, Hq, D] (after RoPE) and k, v [B, S, Hkv, D], with the masks of
    /// <paramref name="spec"/>; differentiable in q, k and v.
    /// </summary>
    Tensor Forward(Tensor q, Tensor k, Tensor v, AttentionSpec spec);
}
