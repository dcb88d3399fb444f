using RawLongLoRA.Model;

namespace RawLongLoRA.Distributed;

/// <summary>
/// K and V — or their gradients — of one rank's position blocks in one flat float32 tensor, block by block, each
/// block's K then its V as contiguous [B, n, Hkv, D]: what one ring step moves in one transfer, and what the kernels
/// read in place.
/// </summary>
internal sealed class RingPacket : IDisposable
{
    private RingPacket(SequenceShards shards, int origin, int batch, int heads, int dim, Tensor data)
    {
        Origin = origin;
        Blocks = shards.BlocksOf(origin);
        Data = data;
        Keys = new Tensor[Blocks.Length];
        Values = new Tensor[Blocks.Length];
        long at = data.Layout.Offset;
        for (int i = 0; i < Blocks.Length; i++)
        {
            int[] shape = [batch, shards.Block(Blocks[i]).Length, heads, dim];
            long count = (long)shape[0] * shape[1] * shape[2] * shape[3];
            Keys[i] = data.Restride(Layout.Contiguous(shape, at));
            Values[i] = data.Restride(Layout.Contiguous(shape, at + count));
            at += 2 * count;
        }
    }

    /// <summary>The rank whose blocks these are.</summary>
    public int Origin { get; }

    /// <summary>The row's blocks held, ascending (<see cref="SequenceShards.BlocksOf"/> of <see cref="Origin"/>).</summary>
    public int[] Blocks { get; }

    /// <summary>Every element, flat: the tensor a transfer moves.</summary>
    public Tensor Data { get; }

    /// <summary>K (or dK) of each block, [B, n, Hkv, D], a view of <see cref="Data"/>.</summary>
    public Tensor[] Keys { get; }

    /// <summary>V (or dV) of each block, [B, n, Hkv, D], a view of <see cref="Data"/>.</summary>
    public Tensor[] Values { get; }

    /// <summary>Every handle this packet holds, for an autograd node to own.</summary>
    public Tensor[] Handles => [Data, .. Keys, .. Values];

    /// <summary>An unwritten packet for <paramref name="origin"/>'s blocks of K/V heads like <paramref name="like"/> [B, ·, Hkv, D].</summary>
    public static RingPacket Empty(SequenceShards shards, int origin, Tensor like)
    {
        int batch = like.Shape[0], heads = like.Shape[2], dim = like.Shape[3];
        long count = 2L * batch * shards.LocalLength(origin) * heads * dim;
        return new RingPacket(shards, origin, batch, heads, dim, Graph.Empty([checked((int)count)], like));
    }

    /// <summary>
    /// <paramref name="origin"/>'s K and V blocks from its local <paramref name="k"/> and <paramref name="v"/> [B, L, Hkv, D]
    /// (L its positions, blocks back to back).
    /// </summary>
    public static RingPacket Pack(SequenceShards shards, int origin, Tensor k, Tensor v)
    {
        var packet = Empty(shards, origin, k);
        for (int i = 0, at = 0; i < packet.Blocks.Length; at += packet.Keys[i].Shape[1], i++)
        {
            CopyBlock(packet.Keys[i], k, at, toLocal: false);
            CopyBlock(packet.Values[i], v, at, toLocal: false);
        }
        return packet;
    }

    /// <summary>Writes the blocks into local <paramref name="k"/> and <paramref name="v"/> [B, L, Hkv, D], blocks back to back.</summary>
    public void Unpack(Tensor k, Tensor v)
    {
        for (int i = 0, at = 0; i < Blocks.Length; at += Keys[i].Shape[1], i++)
        {
            CopyBlock(Keys[i], k, at, toLocal: true);
            CopyBlock(Values[i], v, at, toLocal: true);
        }
    }

    public void Dispose()
    {
        foreach (var t in Handles)
            t.Dispose();
    }

    /// <summary>Copies between <paramref name="block"/> and the positions [at, at + n) of <paramref name="local"/>.</summary>
    private static void CopyBlock(Tensor block, Tensor local, int at, bool toLocal)
    {
        using var window = local.Restride(local.Layout.Narrow(1, at, block.Shape[1]));
        if (toLocal)
            window.CopyFrom(block);
        else
            block.CopyFrom(window);
    }
}
