using RawLongLoRA.Model;

namespace RawLongLoRA.Distributed;

/// <summary>
/// Ulysses sequence parallelism (DeepSpeed-Ulysses): each of the K ranks of <see cref="Group"/> holds a contiguous
/// shard of every row (block Rank of <c>new SequenceShards(RowLength, K, zigZag: false)</c>, after RoPE on its own
/// positions); an all-to-all trades it for all T positions of Hq/K query heads, one local attention call runs on
/// them — S2-Attn halves decided by the global head index, packed starts indexing the whole B·T stream as given —
/// and an all-to-all trades the output back. KV heads go with the query heads that use them: Hkv/K each when K
/// divides Hkv; when Hkv divides K (more ranks than KV heads) each rank gets a copy of the one its query heads
/// share, and the copies' gradients are summed on the way back.
/// <para>
/// Bytes each rank sends per call (and receives as much), with Tr = T/K, s the element size and h = Hkv/K, or 1
/// with replicated KV heads: forward, q and o each B·Tr·D·s·(K−1)·Hq/K, k and v each B·Tr·D·s·(K−1)·h; backward
/// the same four again (do to head shards, then dq, dk, dv back to sequence shards). With checkpointing the forward's
/// four are paid once more in the recompute. Every rank's own share stays local.
/// </para>
/// </summary>
public sealed class UlyssesAttention(ICommunicator group) : IAttention
{
    private const string Op = "ulysses_attention";

    /// <summary>The sequence-parallel group.</summary>
    public ICommunicator Group { get; } = group;

    /// <summary>
    /// o [B, Tr, Hq, D] for this rank's shard q [B, Tr, Hq, D], k, v [B, Tr, Hkv, D] of rows of
    /// <paramref name="spec"/>.RowLength tokens (required: the whole row). Queries and keys cover the same positions
    /// (spec.QueryStart = spec.KeyStart, as many keys as queries); a call with a KV cache is refused.
    /// </summary>
    public Tensor Forward(Tensor q, Tensor k, Tensor v, AttentionSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Check.Alive(Op, q, k, v);
        foreach (var (t, role) in new[] { (q, "q"), (k, "k"), (v, "v") })
            Check.Rank(Op, t, $"{role} [batch, tokens, heads, head_dim]", 4);
        int ranks = Group.Size, rank = Group.Rank, hq = q.Shape[2], hkv = k.Shape[2];
        if (spec.RowLength <= 0)
            throw Check.Fail(Op, $"AttentionSpec.RowLength must be the whole row's length (> 0), got {spec.RowLength}", q);
        if (k.Shape[1] != q.Shape[1] || spec.KeyStart != spec.QueryStart)
            throw Check.Fail(Op, $"queries and keys must cover the same positions (no KV cache under sequence parallelism), got {q.Shape[1]} queries from position {spec.QueryStart} and {k.Shape[1]} keys from {spec.KeyStart}", q, k);
        if (!Shapes.Equal(k.Shape, v.Shape) || k.Shape[0] != q.Shape[0] || k.Shape[3] != q.Shape[3])
            throw Check.Fail(Op, "k and v must be [batch, tokens, kv_heads, head_dim] with q's batch, tokens and head_dim", q, k, v);
        var shards = new SequenceShards(spec.RowLength, ranks, zigZag: false);
        if (q.Shape[1] != shards.LocalLength(rank))
            throw Check.Fail(Op, $"rank {rank} of {ranks} holds positions [{shards.Block(rank).Start}, {shards.Block(rank).Start + shards.LocalLength(rank)}) of a {spec.RowLength}-token row, {shards.LocalLength(rank)} tokens, but q has {q.Shape[1]}", q);
        var kvHeads = KvHeads(hq, hkv, ranks);
        int perRank = hq / ranks;
        var queries = new SequenceToHeads(Group, shards, [.. Enumerable.Range(0, ranks).Select(r => (r * perRank, perRank))], hq);
        var keys = new SequenceToHeads(Group, shards, kvHeads, hkv);
        var local = spec with
        {
            QueryStart = 0,
            KeyStart = 0,
            HeadStart = spec.HeadStart + rank * perRank,
            TotalHeads = spec.TotalHeads > 0 ? spec.TotalHeads : hq,
        };
        var o = queries.ToHeads(q).Attention(keys.ToHeads(k), keys.ToHeads(v), local);
        return queries.ToSequence(o);
    }

    /// <summary>
    /// The KV heads each rank needs for its Hq/K query heads: Hkv/K of them when K divides Hkv; the one its query
    /// heads share when Hkv divides K (each run of K/Hkv consecutive ranks holds a copy of one head); otherwise no
    /// split serves, and the error says which sizes would.
    /// </summary>
    private static (int Start, int Count)[] KvHeads(int hq, int hkv, int ranks)
    {
        if (hq % ranks != 0 || hq % hkv != 0)
            throw new ArgumentException($"{Op}: {hq} query heads cannot be split over {ranks} ranks with {hkv} KV heads: the query heads (Hq = {hq}) must be divisible by the sequence-parallel group size ({ranks}) and by the KV heads (Hkv = {hkv})");
        if (hkv % ranks == 0)
            return [.. Enumerable.Range(0, ranks).Select(r => (r * (hkv / ranks), hkv / ranks))];
        if (ranks % hkv == 0)
            return [.. Enumerable.Range(0, ranks).Select(r => (r / (ranks / hkv), 1))];
        throw new ArgumentException($"{Op}: {hkv} KV heads (Hkv) and a group of {ranks} ranks: one must divide the other (Hq = {hq}), so that each rank's query heads find their KV heads on it");
    }
}
