using ILGPU;
using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// <see cref="AttentionMask"/>'s per-query key range [lo, hi] as a kernel parameter: the packed starts stay on the
/// device, and a query's sequence start is found by binary search in them (as flash-attn does in cu_seqlens), so no
/// bounds are built on the host. lo and hi never decrease with the query, as the CPU kernel relies on too.
/// </summary>
/// <remarks>Public: ILGPU's kernel launchers need every parameter type visible.</remarks>
public struct AttentionMaskDevice
{
    /// <summary>AttentionSpec.SequenceStarts on the device; empty when each row is one sequence.</summary>
    public ArrayView<int> Starts;
    /// <summary>Tokens in a whole row (<see cref="AttentionMask.RowLength"/>).</summary>
    public int Row;
    /// <summary>S2-Attn group size G, 0 = off.</summary>
    public int GroupSize;
    /// <summary>Position of the call's first query in its row.</summary>
    public int QueryStart;
    /// <summary>Position of the call's first key in its row.</summary>
    public int KeyStart;
    /// <summary>Keys in the call.</summary>
    public int S;
    /// <summary>The first of the call's heads in S2-Attn's shifted half (<see cref="AttentionMask.FirstShiftedHead"/>).</summary>
    public int FirstShifted;

    /// <summary>
    /// The mask of <paramref name="spec"/> for t queries over s keys in hq heads; <paramref name="none"/> is any empty
    /// view on the device, passed where there are no packed starts (ILGPU passes a view by its buffer).
    /// </summary>
    internal static AttentionMaskDevice Of(AttentionSpec spec, int t, int s, int hq, ArrayView<int> none) => new()
    {
        Starts = spec.SequenceStarts is { } starts ? IlgpuBackend.View<int>(starts).SubView(0, starts.Numel) : none,
        Row = AttentionMask.RowLength(spec, t, s),
        GroupSize = spec.GroupSize,
        QueryStart = spec.QueryStart,
        KeyStart = spec.KeyStart,
        S = s,
        FirstShifted = AttentionMask.FirstShiftedHead(spec, hq),
    };

    /// <summary>The first key query t of batch row r sees (in the call's keys, at least 0), in head half <paramref name="shifted"/>.</summary>
    public readonly int Lo(int r, bool shifted, int t)
    {
        int position = QueryStart + t;
        long rowStart = (long)r * Row, token = rowStart + position;
        // a = how many starts are at or before the query's token; the last of them begins its sequence if it lies in this row.
        long a = 0, z = Starts.Length;
        while (a < z)
        {
            long mid = (a + z) >> 1;
            if (Starts[mid] <= token)
                a = mid + 1;
            else
                z = mid;
        }
        int sequence = a > 0 && Starts[a - 1] >= rowStart ? (int)(Starts[a - 1] - rowStart) : 0;
        return Math.Max(0, Math.Max(sequence, AttentionMask.GroupStart(position, GroupSize, shifted ? 1 : 0)) - KeyStart);
    }

    /// <summary>The last key query t sees at most: its own position, cut to the call's keys.</summary>
    public readonly int Hi(int t) => Math.Min(QueryStart + t - KeyStart, S - 1);

    /// <summary>The first query in [<paramref name="from"/>, <paramref name="t"/>) whose lo is past <paramref name="key"/> (t if none): later ones never see it.</summary>
    public readonly int FirstQueryPast(int r, bool shifted, int key, int from, int t)
    {
        int a = from, z = t;
        while (a < z)
        {
            int mid = (a + z) >> 1;
            if (Lo(r, shifted, mid) > key)
                z = mid;
            else
                a = mid + 1;
        }
        return a;
    }
}
