using RawLongLoRA.Model;

namespace RawLongLoRA.Distributed;

/// <summary>A rank's local tensors [B, L, H, D] (its blocks back to back along positions) cut into blocks, and joined back.</summary>
internal static class LocalBlocks
{
    /// <summary>
    /// A contiguous handle with no history on each of <paramref name="rank"/>'s blocks of <paramref name="local"/> (a
    /// copy only where the block is not contiguous there); the caller disposes them.
    /// </summary>
    public static Tensor[] Split(Tensor local, SequenceShards shards, int rank)
    {
        var blocks = shards.BlocksOf(rank);
        var split = new Tensor[blocks.Length];
        for (int i = 0, at = 0; i < blocks.Length; at += split[i].Shape[1], i++)
        {
            using var window = local.Restride(local.Layout.Narrow(1, at, shards.Block(blocks[i]).Length));
            split[i] = Graph.ContiguousData(window);
        }
        return split;
    }

    /// <summary>Writes <paramref name="blocks"/> back to back along positions into <paramref name="local"/>.</summary>
    public static void Join(Tensor local, Tensor[] blocks)
    {
        for (int i = 0, at = 0; i < blocks.Length; at += blocks[i].Shape[1], i++)
        {
            using var window = local.Restride(local.Layout.Narrow(1, at, blocks[i].Shape[1]));
            window.CopyFrom(blocks[i]);
        }
    }
}
