using RawLongLoRA.Distributed;
using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Training;

/// <summary>
/// What sequence parallelism adds to a rank's memory beside its T/K tokens' activations (<see cref="StepMemory"/>
/// divides those), in float32 values per token the rank holds. Ulysses keeps attention's q, k, v and o a second
/// time, in head shards over the whole row (H/K query heads, H′/K KV heads with H′ = max(Hkv, K)): D·(2H + 2H′) a
/// token, and its backward holds their gradients in both layouts at once; its attention kernel runs over the whole
/// row for its heads. Ring keeps nothing more, but its backward has two K and V blocks (the one in use, the one
/// arriving) and two dK and dV blocks in flight: 8·Hkv·D a token; its kernel runs block against block.
/// </summary>
internal static class SequenceParallelMemory
{
    /// <summary>Values a token adds to what one recorded layer keeps for backward.</summary>
    public static double LayerValues(StepShape s) =>
        s.SequenceParallel > 1 && s.SequenceKind == SequenceParallel.Ulysses ? HeadShardValues(s) : 0;

    /// <summary>Values a token adds to the gradients in flight while attention runs backward.</summary>
    public static double AttentionBackwardValues(StepShape s) => s.SequenceParallel <= 1 ? 0
        : s.SequenceKind == SequenceParallel.Ulysses ? HeadShardValues(s)
        : 8.0 * s.Config.NumKvHeads * s.Config.HeadDim;

    /// <summary>The attention kernel's backward workspace on one rank, for the shape it runs on.</summary>
    public static long Workspace(StepShape s, int threads)
    {
        var c = s.Config;
        int k = s.SequenceParallel, rankTokens = (int)Math.Min(int.MaxValue, s.RankTokens / s.Batch);
        return k > 1 && s.SequenceKind == SequenceParallel.Ulysses
            ? Attention.BackwardWorkspaceBytes(s.Batch, s.Tokens, s.Tokens, Math.Max(1, c.NumHeads / k), Math.Max(c.NumKvHeads, k) / k, c.HeadDim, threads)
            : Attention.BackwardWorkspaceBytes(s.Batch, rankTokens, rankTokens, c.NumHeads, c.NumKvHeads, c.HeadDim, threads);
    }

    private static double HeadShardValues(StepShape s) =>
        (double)s.Config.HeadDim * (2 * s.Config.NumHeads + 2 * Math.Max(s.Config.NumKvHeads, s.SequenceParallel));
}
