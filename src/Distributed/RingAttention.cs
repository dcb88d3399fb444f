using RawLongLoRA.Model;

namespace RawLongLoRA.Distributed;

/// <summary>
/// Ring sequence parallelism: each rank of <see cref="Group"/> holds its blocks of every row (<see cref="SequenceShards"/>:
/// block r, or blocks r and 2N − 1 − r with <see cref="ZigZag"/>) and keeps its queries; the K/V blocks travel around
/// the ring, the next transfer posted before the current blocks are computed, and each query block's parts merge by
/// lse in float32. Pairs of blocks a mask makes empty (causal, packed samples, S2-Attn groups) are skipped without
/// computing; zig-zag gives every rank the same causal work. Bytes a rank sends per layer, with L = T / N positions
/// per rank, Hkv key/value heads of D dims and 4-byte floats: forward, N − 1 steps of its K and V blocks
/// (2·B·L·Hkv·D·4 each); backward, N − 1 steps of K and V and N steps of dK and dV (the same size), so that
/// every block's gradient comes home.
/// </summary>
public sealed class RingAttention(ICommunicator group, bool zigZag) : IAttention
{
    private const string Op = "ring_attention";

    /// <summary>The sequence-parallel group.</summary>
    public ICommunicator Group { get; } = group;

    /// <summary>Whether rank r holds blocks r and 2·Size − 1 − r of each row.</summary>
    public bool ZigZag { get; } = zigZag;

    /// <summary>The block pairs this rank has computed so far.</summary>
    internal RingWork Work { get; } = new();

    /// <summary>
    /// o [B, L, Hq, D] for this rank's share of whole rows: q [B, L, Hq, D] and k, v [B, L, Hkv, D] at the positions
    /// <see cref="SequenceShards.PositionsOf"/> gives it (blocks back to back), spec.RowLength the whole row T, and
    /// QueryStart = KeyStart = 0. Every rank of the group must call it with the same shapes and masks.
    /// </summary>
    public Tensor Forward(Tensor q, Tensor k, Tensor v, AttentionSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Check.Alive(Op, q, k, v);
        Check.Rank(Op, q, "q [batch, tokens, heads, head_dim]", 4);
        Check.Rank(Op, k, "k [batch, tokens, kv_heads, head_dim]", 4);
        Check.SameShape(Op, k, v);
        if (k.Shape[0] != q.Shape[0] || k.Shape[3] != q.Shape[3])
            throw Check.Fail(Op, "k and v must have q's batch and head dim", q, k);
        if (spec.RowLength <= 0)
            throw new ArgumentException($"ring attention: AttentionSpec.RowLength must be the whole row's length (the tokens of all {Group.Size} ranks), got {spec.RowLength}", nameof(spec));
        if (spec.QueryStart != 0 || spec.KeyStart != 0 || k.Shape[1] != q.Shape[1])
            throw new ArgumentException($"ring attention: q, k and v must hold the same positions, this rank's share of whole rows (QueryStart = KeyStart = 0), " +
                $"but q has {q.Shape[1]} tokens from QueryStart {spec.QueryStart} and k {k.Shape[1]} from KeyStart {spec.KeyStart}; a call with a KV cache runs with LocalAttention", nameof(spec));
        var shards = new SequenceShards(spec.RowLength, Group.Size, ZigZag);
        int expected = shards.LocalLength(Group.Rank);
        if (q.Shape[1] != expected)
            throw new ArgumentException($"ring attention: rank {Group.Rank} of {Group.Size} holds {expected} positions of a row of {spec.RowLength} " +
                $"(blocks {string.Join(" and ", shards.BlocksOf(Group.Rank))} of {shards.Blocks}), but q has {q.Shape[1]}", nameof(q));
        return RingAttentionOp.Forward(Group, shards, q, k, v, spec, Work);
    }
}
