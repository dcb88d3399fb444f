namespace RawLongLoRA.Model;

/// <summary>
/// Attention over position blocks in one process, as Ring attention schedules it across ranks: the rows are
/// cut into <see cref="Blocks"/> blocks of positions; each rank's query blocks meet the key blocks in ring
/// order (its own first, then those of the rank before it, …), skipping blocks wholly in their future, and
/// the parts merge by the online-softmax rule. With <see cref="ZigZag"/>, rank r holds blocks r and
/// Blocks − 1 − r, so that under a causal mask every rank does the same work. The result equals one call
/// up to float rounding; a Ring strategy replaces the loop over ranks with sends and receives.
/// </summary>
public sealed class BlockwiseAttention : IAttention
{
    /// <summary>
    /// A schedule of <paramref name="blocks"/> position blocks (at least 1; even with
    /// <paramref name="zigZag"/>, whose ranks hold two blocks each).
    /// </summary>
    public BlockwiseAttention(int blocks, bool zigZag)
    {
        if (blocks < 1 || zigZag && blocks % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(blocks), $"blockwise attention: blocks must be at least 1 (and even for zig-zag), got {blocks}");
        Blocks = blocks;
        ZigZag = zigZag;
    }

    /// <summary>Position blocks per row.</summary>
    public int Blocks { get; }

    /// <summary>Whether rank r holds blocks r and Blocks − 1 − r (else block r alone).</summary>
    public bool ZigZag { get; }

    /// <summary>
    /// Blockwise when queries and keys cover the same positions (training, evaluation); a call with a KV cache
    /// (queries after the cached keys) goes to one kernel call, as it would on a single rank.
    /// </summary>
    public Tensor Forward(Tensor q, Tensor k, Tensor v, AttentionSpec spec)
    {
        int t = q.Shape[1];
        if (k.Shape[1] != t || spec.KeyStart != spec.QueryStart || t < Blocks)
            return q.Attention(k, v, spec);
        int start = spec.QueryStart;
        var whole = spec with { RowLength = spec.RowLength > 0 ? spec.RowLength : start + t };
        var shards = new SequenceShards(t, ZigZag ? Blocks / 2 : Blocks, ZigZag);
        var outputs = new Tensor[Blocks];
        for (int rank = 0; rank < shards.Ranks; rank++)
            foreach (int qb in shards.BlocksOf(rank))
            {
                var (q0, qn) = shards.Block(qb);
                AttentionPart? merged = null;
                foreach (int kb in KeyOrder(shards, rank))
                {
                    var (k0, kn) = shards.Block(kb);
                    if (k0 > q0 + qn - 1)
                        continue;
                    var part = q.Narrow(1, q0, qn).AttentionPart(k.Narrow(1, k0, kn), v.Narrow(1, k0, kn),
                        whole with { QueryStart = start + q0, KeyStart = start + k0 });
                    merged = merged is null ? part : AttentionPart.Merge(merged, part);
                }
                // Every query block sees its own key block at least, so merged is set.
                outputs[qb] = merged!.O;
            }
        return Cat.Concat(1, outputs);
    }

    /// <summary>The key blocks in the order a ring hands them to <paramref name="rank"/>: its own, then the previous rank's, and so on.</summary>
    private static IEnumerable<int> KeyOrder(SequenceShards shards, int rank)
    {
        for (int step = 0; step < shards.Ranks; step++)
            foreach (int block in shards.BlocksOf((rank - step + shards.Ranks) % shards.Ranks))
                yield return block;
    }
}
