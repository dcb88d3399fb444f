using RawLongLoRA.Distributed;
using RawLongLoRA.Model;
using RawLongLoRA.Training.Checks;

namespace RawLongLoRA.MpiWorker;

/// <summary>
/// Ring attention on the world's ranks equals one process's attention over whole rows: o and the gradients of q, k
/// and v at each rank's positions, float32, plain and zig-zag, under every mask case. Every rank computes the whole
/// rows itself as the reference (the shapes are tiny) and checks its own share.
/// </summary>
internal static class RingScenarios
{
    /// <summary>Max |ring − one call| over max |one call|, per tensor: float32 rounding of a few merges, far below a wrong mask's O(1).</summary>
    private const double Tolerance = 1e-5;

    /// <summary>The mask cases by name.</summary>
    public static readonly IReadOnlyDictionary<string, RingCase> Cases = new Dictionary<string, RingCase>
    {
        ["causal"] = new(B: 1, T: 13, Hq: 2, Hkv: 2, D: 8, GroupSize: 0, Starts: null),
        // Samples of 5, 4, 5 | 3, 11 tokens: none a multiple of 2 × ranks; row 1's first starts at the row's start.
        ["packed"] = new(B: 2, T: 14, Hq: 2, Hkv: 1, D: 8, GroupSize: 0, Starts: [0, 5, 9, 14, 17]),
        // Groups of 4 (and shifted ones of 2 + 4 + …) straddle the blocks of 3 ranks (5, 5, 6) and of zig-zag's 2 or 3 positions.
        ["S2"] = new(B: 1, T: 16, Hq: 4, Hkv: 2, D: 8, GroupSize: 4, Starts: null),
        ["S2 packed"] = new(B: 2, T: 12, Hq: 4, Hkv: 4, D: 16, GroupSize: 6, Starts: [0, 7, 12, 15, 22]),
        // Row 0's second sample starts mid-row, row 1 is one sequence: a later block's part over an earlier block is
        // computed for row 1 while every query of row 0 sees none of its keys (lse −∞ on the whole block).
        ["row masked"] = new(B: 2, T: 16, Hq: 2, Hkv: 2, D: 8, GroupSize: 0, Starts: [0, 8, 16]),
        ["GQA"] = new(B: 2, T: 11, Hq: 4, Hkv: 1, D: 16, GroupSize: 0, Starts: null),
    };

    /// <summary>
    /// Runs the case named by args[0] laid out as args[1] ("plain" or "zig-zag"), inside a checkpointed segment if
    /// args[2] is "checkpointed" (the ring runs again in backward); with no arguments, every case both ways. Prints
    /// rank 0's errors, and how many cases passed.
    /// </summary>
    [Scenario("ring")]
    public static void Ring(ICommunicator world, string[] args)
    {
        var runs = args.Length >= 2
            ? [(args[0], args[1] == "zig-zag")]
            : Cases.Keys.SelectMany(name => new[] { (name, false), (name, true) }).ToArray();
        bool checkpointed = args.Length >= 3 && args[2] == "checkpointed";
        foreach (var (name, zigZag) in runs)
        {
            var errors = Check(world, Cases[name], zigZag, checkpointed, $"ring {name} {(zigZag ? "zig-zag" : "plain")}, rank {world.Rank} of {world.Size}");
            if (world.Rank == 0)
                Console.WriteLine($"ring {name} {(zigZag ? "zig-zag" : "plain")} on {world.Size} ranks, rank 0, max error / max value: " +
                    string.Join(", ", errors.Select(e => $"{e.Name} {e.Error:E1}")));
        }
        if (world.Rank == 0)
            Console.WriteLine($"ring: {world.Size} ranks, {runs.Length} cases equal one process");
    }

    /// <summary>Checks one case on the world's ranks; the relative error of o, dq, dk and dv at this rank's positions.</summary>
    private static (string Name, double Error)[] Check(ICommunicator world, RingCase c, bool zigZag, bool checkpointed, string what)
    {
        using var scope = new DisposeScope();
        var spec = c.Spec();
        var q = Tensor.Randn([c.B, c.T, c.Hq, c.D], new Generator(1), requiresGrad: true);
        var k = Tensor.Randn([c.B, c.T, c.Hkv, c.D], new Generator(2), requiresGrad: true);
        var v = Tensor.Randn([c.B, c.T, c.Hkv, c.D], new Generator(3), requiresGrad: true);
        var dout = Tensor.Randn([c.B, c.T, c.Hq, c.D], new Generator(4));
        var o = q.Attention(k, v, spec);
        o.Backward(dout);

        var shards = new SequenceShards(c.T, world.Size, zigZag);
        var local = new[] { q, k, v }.Select(x => Local(x, shards, world.Rank)).ToArray();
        foreach (var x in local)
            x.RequiresGrad = true;
        var ring = new RingAttention(world, zigZag);
        var ol = checkpointed
            ? Checkpoint.Run(x => ring.Forward(x[0], x[1], x[2], spec), local)
            : ring.Forward(local[0], local[1], local[2], spec);
        ol.Backward(Local(dout, shards, world.Rank));
        return
        [
            Compare(what, "o", Local(o, shards, world.Rank), ol),
            Compare(what, "dq", Local(q.Grad!, shards, world.Rank), local[0].Grad!),
            Compare(what, "dk", Local(k.Grad!, shards, world.Rank), local[1].Grad!),
            Compare(what, "dv", Local(v.Grad!, shards, world.Rank), local[2].Grad!),
        ];
    }

    /// <summary>The positions <paramref name="rank"/> holds of whole rows <paramref name="full"/> [B, T, H, D], as a new tensor with no history.</summary>
    public static Tensor Local(Tensor full, SequenceShards shards, int rank)
    {
        var data = full.Detach();
        return Cat.Concat(1, shards.BlocksOf(rank).Select(b => data.Narrow(1, shards.Block(b).Start, shards.Block(b).Length)).ToArray());
    }

    private static (string Name, double Error) Compare(string what, string name, Tensor expected, Tensor actual)
    {
        double error = MaxRelativeError.Of(actual.ToFloatArray(), expected.ToFloatArray());
        if (!(error <= Tolerance))
            throw new InvalidOperationException($"{what}: {name} max error / max value {error:E2} exceeds {Tolerance:E0}");
        return (name, error);
    }
}

/// <summary>A mask case: shapes, the S2-Attn group size (0 = off) and the packed starts into the B·T stream (null = one sequence a row).</summary>
internal sealed record RingCase(int B, int T, int Hq, int Hkv, int D, int GroupSize, int[]? Starts)
{
    /// <summary>The spec for whole rows of T, both for one process and for Ring.</summary>
    public AttentionSpec Spec() => new()
    {
        RowLength = T,
        GroupSize = GroupSize,
        SequenceStarts = Starts is null ? null : PackedStarts.Of(Starts, (long)B * T),
    };
}
