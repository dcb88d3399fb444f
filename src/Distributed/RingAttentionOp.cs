using RawLongLoRA.Model;
using RawLongLoRA.Profiling;

namespace RawLongLoRA.Distributed;

/// <summary>
/// Ring attention as one autograd op with a hand-written forward and backward (as ring-flash-attention's
/// ring_flash_attn_func). Forward: each of the group's Size steps posts the transfer of the K/V blocks held now to
/// the next rank (receiving the previous rank's), computes this rank's query blocks against them, merges each part
/// into float32 accumulators by lse, then waits for the transfer. Backward: the same ring again, each part's exact
/// gradients from the final o and lse; dq accumulates here, dK/dV in a packet that travels with the K/V blocks and
/// reaches their owner after the last step. Pairs a mask makes empty are skipped without computing; the sends and
/// receives are the same on every rank whatever it skips, so none waits for a transfer that never comes.
/// </summary>
internal static class RingAttentionOp
{
    private const string Op = "ring_attention";

    // K/V and their gradients travel at once in backward: their own tags keep them apart.
    private const int KvTag = 1, GradTag = 2;

    /// <summary>
    /// o [B, L, Hq, D] of this rank's queries <paramref name="q"/> [B, L, Hq, D] over the whole row, whose keys and
    /// values are spread over the group as <paramref name="shards"/> says (this rank's in <paramref name="k"/>,
    /// <paramref name="v"/> [B, L, Hkv, D]); <paramref name="spec"/>'s masks, RowLength the whole row.
    /// </summary>
    public static Tensor Forward(ICommunicator group, SequenceShards shards, Tensor q, Tensor k, Tensor v, AttentionSpec spec, RingWork work)
    {
        using var profile = Profiler.Op(Op, q, k, v);
        var backend = Graph.Backend(Op, q, k, v, spec.SequenceStarts);
        int rank = group.Rank, size = group.Size;
        var schedule = new RingSchedule(shards, spec, q.Shape[0]);
        var own = shards.BlocksOf(rank);
        var queries = LocalBlocks.Split(q, shards, rank);
        var mine = RingPacket.Pack(shards, rank, k, v);
        var outs = queries.Select(x => Graph.Empty(x.ShapeArray, q).Zero()).ToArray();
        var lses = queries.Select(x => Graph.Empty(LseShape(x), q).Fill(double.NegativeInfinity)).ToArray();
        // Parts land in partO/partL and merge into spare buffers that then become the accumulators.
        var partO = queries.Select(x => Graph.Empty(x.ShapeArray, q)).ToArray();
        var partL = queries.Select(x => Graph.Empty(LseShape(x), q)).ToArray();
        var spareO = queries.Select(x => Graph.Empty(x.ShapeArray, q)).ToArray();
        var spareL = queries.Select(x => Graph.Empty(LseShape(x), q)).ToArray();
        var starts = spec.SequenceStarts?.Restride(spec.SequenceStarts.Layout);
        spec = spec with { SequenceStarts = starts };

        var held = mine;
        for (int step = 0; step < size; step++)
        {
            var (next, transfer) = step < size - 1 ? Pass(group, shards, held, k, KvTag) : default;
            for (int i = 0; i < own.Length; i++)
                for (int j = 0; j < held.Blocks.Length; j++)
                {
                    if (!schedule.Visible(own[i], held.Blocks[j]))
                        continue;
                    backend.AttentionForward(partO[i], partL[i], queries[i], held.Keys[j], held.Values[j], PairSpec(spec, shards, own[i], held.Blocks[j]));
                    backend.AttentionMerge(spareO[i], spareL[i], outs[i], lses[i], partO[i], partL[i]);
                    (outs[i], spareO[i]) = (spareO[i], outs[i]);
                    (lses[i], spareL[i]) = (spareL[i], lses[i]);
                    work.Forward++;
                }
            transfer?.Wait();
            if (held != mine)
                held.Dispose();
            held = next ?? held;
        }
        DisposeAll(partO, partL, spareO, spareL);

        var output = Graph.Empty(q.ShapeArray, q);
        LocalBlocks.Join(output, outs);
        Tensor[] saved = [.. queries, .. mine.Handles, .. outs, .. lses, .. starts is null ? Array.Empty<Tensor>() : [starts]];
        int[] qShape = q.ShapeArray, kvShape = k.ShapeArray;
        return Graph.Record(output, Op, [q, k, v], saved, (g, need) =>
        {
            var (dq, dk, dv) = Backward(group, shards, schedule, spec, g, qShape, kvShape, queries, mine, outs, lses, work);
            return [Keep(dq, need[0]), Keep(dk, need[1]), Keep(dv, need[2])];
        });
    }

    /// <summary>dq, dk, dv of <see cref="Forward"/> from o's gradient <paramref name="g"/> and what the forward saved.</summary>
    private static (Tensor Dq, Tensor Dk, Tensor Dv) Backward(ICommunicator group, SequenceShards shards, RingSchedule schedule, AttentionSpec spec, Tensor g,
        int[] qShape, int[] kvShape, Tensor[] queries, RingPacket mine, Tensor[] outs, Tensor[] lses, RingWork work)
    {
        var backend = Graph.Backend(Op, g, mine.Data);
        int rank = group.Rank, size = group.Size;
        var own = shards.BlocksOf(rank);
        var gc = Graph.ContiguousData(g);
        var douts = LocalBlocks.Split(gc, shards, rank);
        gc.Dispose();
        var dqs = queries.Select(x => Graph.Empty(x.ShapeArray, g).Zero()).ToArray();
        var dqPart = queries.Select(x => Graph.Empty(x.ShapeArray, g)).ToArray();

        var held = mine;
        RingPacket? sending = null, arriving = null, home = null;
        ICommRequest? gradTransfer = null;
        for (int step = 0; step < size; step++)
        {
            var (next, transfer) = step < size - 1 ? Pass(group, shards, held, mine.Keys[0], KvTag) : default;
            var grads = RingPacket.Empty(shards, held.Origin, mine.Keys[0]);
            grads.Data.Zero();
            for (int j = 0; j < held.Blocks.Length; j++)
            {
                using var dkPart = Graph.Empty(held.Keys[j].ShapeArray, g);
                using var dvPart = Graph.Empty(held.Values[j].ShapeArray, g);
                for (int i = 0; i < own.Length; i++)
                {
                    if (!schedule.Visible(own[i], held.Blocks[j]))
                        continue;
                    backend.AttentionBackward(dqPart[i], dkPart, dvPart, douts[i], queries[i], held.Keys[j], held.Values[j], outs[i], lses[i],
                        PairSpec(spec, shards, own[i], held.Blocks[j]));
                    backend.Binary(BinaryOp.Add, dqs[i], dqs[i], dqPart[i]);
                    backend.Binary(BinaryOp.Add, grads.Keys[j], grads.Keys[j], dkPart);
                    backend.Binary(BinaryOp.Add, grads.Values[j], grads.Values[j], dvPart);
                    work.Backward++;
                }
            }
            // What the ranks before this one computed for these blocks arrives while this step computes.
            if (gradTransfer is not null)
            {
                gradTransfer.Wait();
                backend.Binary(BinaryOp.Add, grads.Data, grads.Data, arriving!.Data);
                arriving.Dispose();
                sending!.Dispose();
            }
            if (size > 1)
            {
                sending = grads;
                (arriving, gradTransfer) = Pass(group, shards, grads, mine.Keys[0], GradTag);
            }
            else
                home = grads;
            transfer?.Wait();
            if (held != mine)
                held.Dispose();
            held = next ?? held;
        }
        if (gradTransfer is not null)
        {
            gradTransfer.Wait();
            sending!.Dispose();
            home = arriving;
        }

        var dq = Graph.Empty(qShape, g);
        LocalBlocks.Join(dq, dqs);
        var dk = Graph.Empty(kvShape, g);
        var dv = Graph.Empty(kvShape, g);
        home!.Unpack(dk, dv);
        home.Dispose();
        DisposeAll(douts, dqs, dqPart);
        return (dq, dk, dv);
    }

    /// <summary>
    /// Starts passing <paramref name="packet"/> to the next rank and receiving the previous rank's — the blocks of the
    /// rank before <paramref name="packet"/>'s origin — into a new packet.
    /// </summary>
    private static (RingPacket? Next, ICommRequest? Transfer) Pass(ICommunicator group, SequenceShards shards, RingPacket packet, Tensor like, int tag)
    {
        int size = group.Size;
        var next = RingPacket.Empty(shards, (packet.Origin + size - 1) % size, like);
        return (next, group.StartSendReceive(packet.Data, (group.Rank + 1) % size, next.Data, (group.Rank + size - 1) % size, tag));
    }

    /// <summary>The kernel's spec for query block <paramref name="queryBlock"/> against key block <paramref name="keyBlock"/>: their row positions.</summary>
    private static AttentionSpec PairSpec(AttentionSpec spec, SequenceShards shards, int queryBlock, int keyBlock)
        => spec with { QueryStart = shards.Block(queryBlock).Start, KeyStart = shards.Block(keyBlock).Start, RowLength = shards.Length };

    private static int[] LseShape(Tensor queries) => [queries.Shape[0], queries.Shape[2], queries.Shape[1]];

    private static Tensor? Keep(Tensor gradient, bool needed)
    {
        if (needed)
            return gradient;
        gradient.Dispose();
        return null;
    }

    private static void DisposeAll(params Tensor[][] groups)
    {
        foreach (var group in groups)
            foreach (var t in group)
                t.Dispose();
    }
}
