using RawLongLoRA.Model;
using RawLongLoRA.Profiling;

namespace RawLongLoRA.Distributed;

/// <summary>
/// Ulysses' all-to-all, as differentiable ops: a tensor [B, Tr, H, D] that holds this rank's positions of each row
/// (block <see cref="ICommunicator.Rank"/> of <see cref="Shards"/>) and all H heads becomes [B, T, n, D], every
/// position of the row for the n heads this rank is given — and back. The heads rank j is given are
/// <see cref="Heads"/>[j], a window [Start, Start + Count) of the H; windows may overlap (KV heads replicated on
/// ranks that share them), in which case the way back sums the copies: that is what makes
/// <see cref="ToHeads"/>'s gradient right, each replica's gradient adding into its one source head.
/// Each op's backward is the other op's data movement on the gradient.
/// </summary>
internal sealed class SequenceToHeads
{
    /// <summary>An exchange over <paramref name="group"/>: positions shared as <paramref name="shards"/>, heads as <paramref name="heads"/> (one window per rank).</summary>
    public SequenceToHeads(ICommunicator group, SequenceShards shards, (int Start, int Count)[] heads, int totalHeads)
    {
        if (shards.Ranks != group.Size || shards.ZigZag || heads.Length != group.Size)
            throw new ArgumentException($"ulysses all-to-all: {group.Size} ranks need plain shards of as many ranks and as many head windows, got {shards.Ranks} ranks{(shards.ZigZag ? " (zig-zag)" : "")} and {heads.Length} windows");
        (Group, Shards, Heads, TotalHeads) = (group, shards, heads, totalHeads);
    }

    /// <summary>The ranks that exchange.</summary>
    public ICommunicator Group { get; }

    /// <summary>How each row's positions are shared among the ranks before the exchange.</summary>
    public SequenceShards Shards { get; }

    /// <summary>The heads each rank holds after the exchange, as windows of the <see cref="TotalHeads"/>.</summary>
    public (int Start, int Count)[] Heads { get; }

    /// <summary>Heads of the tensor before the exchange.</summary>
    public int TotalHeads { get; }

    private (int Start, int Count)[] Positions => [.. Enumerable.Range(0, Group.Size).Select(Shards.Block)];

    /// <summary>x [B, Tr, H, D] (this rank's positions, all heads) → [B, T, Heads[rank].Count, D] (all positions, this rank's heads).</summary>
    public Tensor ToHeads(Tensor x)
    {
        const string op = "ulysses_to_heads";
        using var profile = Profiler.Op(op, x);
        CheckShape(op, x, Shards.LocalLength(Group.Rank), TotalHeads, "this rank's positions, all heads");
        return Graph.Record(MoveToHeads(x), op, [x], (g, _) => [MoveToSequence(g)]);
    }

    /// <summary>y [B, T, Heads[rank].Count, D] → [B, Tr, H, D]; heads that several ranks hold are summed.</summary>
    public Tensor ToSequence(Tensor y)
    {
        const string op = "ulysses_to_sequence";
        using var profile = Profiler.Op(op, y);
        CheckShape(op, y, Shards.Length, Heads[Group.Rank].Count, "all positions, this rank's heads");
        return Graph.Record(MoveToSequence(y), op, [y], (g, _) => [MoveToHeads(g)]);
    }

    private Tensor MoveToHeads(Tensor x) => Exchange(x, packDim: 2, Heads, unpackDim: 1, Positions, Shards.Length, accumulate: false);

    private Tensor MoveToSequence(Tensor y) => Exchange(y, packDim: 1, Positions, unpackDim: 2, Heads, TotalHeads, accumulate: true);

    private void CheckShape(string op, Tensor t, int tokens, int heads, string what)
    {
        Check.Alive(op, t);
        Check.Rank(op, t, "[batch, tokens, heads, head_dim]", 4);
        if (t.Shape[1] != tokens || t.Shape[2] != heads)
            throw Check.Fail(op, $"rank {Group.Rank} of {Group.Size} expects [batch, {tokens}, {heads}, head_dim] ({what}), got {Shapes.Format(t.Shape)}", t);
    }

    /// <summary>
    /// The all-to-all: rank j is sent the window <paramref name="pack"/>[j] of <paramref name="src"/> along
    /// <paramref name="packDim"/>; what rank i sends lands in window <paramref name="unpack"/>[i] along
    /// <paramref name="unpackDim"/> (<paramref name="unpackSize"/> long) of the result, added there when
    /// <paramref name="accumulate"/> (windows that overlap).
    /// </summary>
    private Tensor Exchange(Tensor src, int packDim, (int Start, int Count)[] pack, int unpackDim, (int Start, int Count)[] unpack, int unpackSize, bool accumulate)
    {
        int ranks = Group.Size, me = Group.Rank;
        var outShape = src.ShapeArray;
        outShape[packDim] = pack[me].Count;
        outShape[unpackDim] = unpackSize;
        var sendShapes = pack.Select(w => WithDim(src.ShapeArray, packDim, w.Count)).ToArray();
        var receiveShapes = unpack.Select(w => WithDim(outShape, unpackDim, w.Count)).ToArray();
        var sendCounts = sendShapes.Select(s => checked((int)Shapes.Numel(s))).ToArray();
        var receiveCounts = receiveShapes.Select(s => checked((int)Shapes.Numel(s))).ToArray();
        using var send = Tensor.Empty([sendCounts.Sum()], src.DType, src.Device);
        using var receive = Tensor.Empty([receiveCounts.Sum()], src.DType, src.Device);
        long at = 0;
        for (int j = 0; j < ranks; j++)
        {
            using var run = send.Restride(Layout.Contiguous(sendShapes[j], at));
            using var window = src.Restride(src.Layout.Narrow(packDim, pack[j].Start, pack[j].Count));
            run.CopyFrom(window);
            at += sendCounts[j];
        }
        Group.AllToAll(receive, receiveCounts, send, sendCounts);
        var result = Tensor.Empty(outShape, src.DType, src.Device);
        if (accumulate)
            result.Zero();
        var backend = Graph.Backend("ulysses_all_to_all", result);
        at = 0;
        for (int i = 0; i < ranks; i++)
        {
            using var run = receive.Restride(Layout.Contiguous(receiveShapes[i], at));
            using var window = result.Restride(result.Layout.Narrow(unpackDim, unpack[i].Start, unpack[i].Count));
            if (accumulate)
                backend.Binary(BinaryOp.Add, window, window, run);
            else
                window.CopyFrom(run);
            at += receiveCounts[i];
        }
        return result;
    }

    private static int[] WithDim(int[] shape, int dim, int size)
    {
        var s = (int[])shape.Clone();
        s[dim] = size;
        return s;
    }
}
