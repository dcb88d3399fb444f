using RawLongLoRA.Kernels.Cpu;
using RawLongLoRA.Model;

namespace RawLongLoRA.Distributed;

/// <summary>
/// Which (query block, key block) pairs of a row a mask leaves anything to compute in, decided on the host. Over a
/// block of consecutive queries the visible keys are [lowest key its first query sees, its last query]: the causal
/// bound, and the later of the first query's packed-sample start and S2-Attn group start (the earlier over the two
/// head halves and over the batch rows). Packed starts count only where they are host memory; elsewhere the bound
/// is looser, never wrong.
/// </summary>
internal sealed class RingSchedule
{
    private readonly SequenceShards _shards;
    private readonly int[] _lowestKey;

    /// <summary>The schedule of <paramref name="shards"/>' blocks for <paramref name="batch"/> rows under <paramref name="spec"/>'s masks.</summary>
    public RingSchedule(SequenceShards shards, AttentionSpec spec, int batch)
    {
        _shards = shards;
        var host = spec with { KeyStart = 0, RowLength = shards.Length, SequenceStarts = spec.SequenceStarts is { Device.IsCpu: true } s ? s : null };
        _lowestKey = new int[shards.Blocks];
        for (int b = 0; b < shards.Blocks; b++)
            _lowestKey[b] = AttentionMask.LowerBounds(host with { QueryStart = shards.Block(b).Start }, batch, 1, 1).Min();
    }

    /// <summary>Whether some query of <paramref name="queryBlock"/> sees some key of <paramref name="keyBlock"/>.</summary>
    public bool Visible(int queryBlock, int keyBlock)
    {
        var (q0, qn) = _shards.Block(queryBlock);
        var (k0, kn) = _shards.Block(keyBlock);
        return k0 <= q0 + qn - 1 && k0 + kn - 1 >= _lowestKey[queryBlock];
    }
}
