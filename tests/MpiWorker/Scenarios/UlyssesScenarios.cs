using RawLongLoRA.Distributed;
using RawLongLoRA.Model;
using RawLongLoRA.Training.Checks;

namespace RawLongLoRA.MpiWorker;

/// <summary>
/// Ulysses attention on every rank of a group against one process's attention over the whole tensors: o and the
/// gradients of q, k and v of each rank's shard equal the whole call's at the rank's positions, for each mask kind
/// and head layout (<see cref="Cases"/>). Every rank computes the whole reference itself, from the same seeds.
/// </summary>
internal static class UlyssesScenarios
{
    /// <summary>Max |Ulysses − one call| over max |one call|, per tensor: float32 rounding, far below a wrong mask's or head's O(1).</summary>
    private const double Tolerance = 1e-5;

    /// <summary>
    /// One check: batch, row length, heads, head dim, S2-Attn group (0 = off), packed starts (null = none), and whether
    /// the call runs as a checkpointed segment (its all-to-alls run again in backward).
    /// </summary>
    internal sealed record Case(string Name, int B, int T, int Hq, int Hkv, int D, int GroupSize = 0, int[]? Starts = null, bool Checkpointed = false);

    [Scenario("ulysses")]
    public static void Ulysses(ICommunicator world, string[] args)
    {
        var cases = Cases(world.Size).ToList();
        foreach (var c in cases)
            Run(world, c);
        if (world.Rank == 0)
            Console.WriteLine($"ulysses: {world.Size} ranks, {cases.Count} cases equal one process");
    }

    /// <summary>
    /// The cases for a group of <paramref name="ranks"/>: rows that do not divide by the ranks, B = 2, packed lengths
    /// that do not divide either, S2-Attn groups (4) straddling shards and, at 3 ranks, a rank whose heads straddle
    /// the two S2 halves; GQA with Hkv/K KV heads per rank and with more ranks than KV heads; a checkpointed call.
    /// </summary>
    public static IEnumerable<Case> Cases(int ranks)
    {
        int k = ranks;
        yield return new Case("causal", 2, 11, 2 * k, 2 * k, 8);
        yield return new Case("causal, one row of T = 10", 1, 10, 2 * k, 2 * k, 8);
        yield return new Case("packed", 2, 13, 2 * k, k, 8, Starts: [0, 5, 13, 16, 22]);
        yield return new Case("S2", 2, 12, 2 * k, 2 * k, 8, GroupSize: 4);
        yield return new Case("S2 packed", 2, 12, 2 * k, k, 8, GroupSize: 4, Starts: [0, 5, 12, 19]);
        yield return new Case("S2 packed, checkpointed", 2, 12, 2 * k, k, 8, GroupSize: 4, Starts: [0, 5, 12, 19], Checkpointed: true);
        yield return new Case("GQA, Hkv/K KV heads per rank", 2, 10, 4 * k, 2 * k, 8, GroupSize: 2);
        yield return new Case("GQA, one KV head for all ranks", 2, 10, 2 * k, 1, 8);
        if (k % 2 == 0 && k > 2)
            yield return new Case("GQA, K/2 KV heads, S2 packed", 2, 12, 2 * k, k / 2, 8, GroupSize: 4, Starts: [0, 7, 12, 15]);
    }

    /// <summary>Checks case <paramref name="c"/> on <paramref name="group"/>; throws naming the rank, case and tensor that differ.</summary>
    public static void Run(ICommunicator group, Case c)
    {
        using var scope = new DisposeScope();
        var q = Tensor.Randn([c.B, c.T, c.Hq, c.D], new Generator(50), requiresGrad: true);
        var k = Tensor.Randn([c.B, c.T, c.Hkv, c.D], new Generator(51), requiresGrad: true);
        var v = Tensor.Randn([c.B, c.T, c.Hkv, c.D], new Generator(52), requiresGrad: true);
        var w = Tensor.Randn([c.B, c.T, c.Hq, c.D], new Generator(53));
        var spec = new AttentionSpec
        {
            GroupSize = c.GroupSize,
            SequenceStarts = c.Starts is null ? null : PackedStarts.Of(c.Starts, c.B * c.T),
        };
        var o = q.Attention(k, v, spec);
        (o * w).Sum().Backward();

        var (start, length) = new SequenceShards(c.T, group.Size, zigZag: false).Block(group.Rank);
        var qs = Shard(q, start, length);
        var ks = Shard(k, start, length);
        var vs = Shard(v, start, length);
        var ulysses = new UlyssesAttention(group);
        var shardSpec = spec with { RowLength = c.T, QueryStart = start, KeyStart = start };
        Func<Tensor[], Tensor> attend = x => ulysses.Forward(x[0], x[1], x[2], shardSpec);
        var os = c.Checkpointed ? Checkpoint.Run(attend, qs, ks, vs) : attend([qs, ks, vs]);
        (os * w.Narrow(1, start, length)).Sum().Backward();

        (string Name, Tensor Shard, Tensor Whole)[] compared = [("o", os, o), ("dq", qs.Grad!, q.Grad!), ("dk", ks.Grad!, k.Grad!), ("dv", vs.Grad!, v.Grad!)];
        var errors = compared.Select(x => (x.Name, Error: MaxRelativeError.Of(x.Shard.ToFloatArray(), x.Whole.Narrow(1, start, length).ToFloatArray()))).ToList();
        string line = $"ulysses rank {group.Rank} of {group.Size}, {c.Name}: max error / max |one call| " + string.Join(", ", errors.Select(e => $"{e.Name} {e.Error:E2}"));
        Console.WriteLine(line);
        if (errors.Any(e => !(e.Error <= Tolerance)))
            throw new InvalidOperationException($"{line}; tolerance {Tolerance:E0}");
    }

    /// <summary>Positions [start, start + length) of every row of <paramref name="whole"/>, as a leaf of their own.</summary>
    private static Tensor Shard(Tensor whole, int start, int length)
    {
        var shard = whole.Narrow(1, start, length).Contiguous().Detach();
        shard.RequiresGrad = true;
        return shard;
    }
}
