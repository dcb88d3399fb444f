namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// The one definition of attention's masks, for every backend. All masks are causal with a key lower
/// bound, by absolute position: the query at position p of batch row r sees keys [lo, p], where lo is the
/// later of the start of p's packed sequence and the start of its S2-Attn group (the second half of all the
/// heads uses groups shifted by G/2). A call holds keys [KeyStart, KeyStart + S), so in its own key indices
/// query t (position QueryStart + t) sees [lo − KeyStart, QueryStart + t − KeyStart] cut to [0, S): lo and the
/// upper bound never decrease with t, so a tile of queries sees one contiguous run of keys; kernels rely on it.
/// A query whose run is empty (lo past the upper bound) sees nothing.
/// </summary>
public static class AttentionMask
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the field when spec does not fit the shapes.</summary>
    public static void Validate(AttentionSpec spec, int b, int t, int s, int hq) => Validate(spec, b, t, s, hq, Device.Cpu);

    /// <summary>
    /// <see cref="Validate(AttentionSpec, int, int, int, int)"/> for a kernel on <paramref name="device"/>, which must
    /// hold SequenceStarts; only on the cpu are its values read (elsewhere PackedStarts.Of checked them on the host).
    /// </summary>
    internal static void Validate(AttentionSpec spec, int b, int t, int s, int hq, Device device)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (b < 1 || t < 1 || s < 1 || hq < 1)
            throw new ArgumentException($"attention needs B, T, S and Hq of at least 1, got B={b}, T={t}, S={s}, Hq={hq}");
        if (spec.QueryStart < 0 || spec.KeyStart < 0)
            throw new ArgumentException($"AttentionSpec.QueryStart and KeyStart must be at least 0, got {spec.QueryStart} and {spec.KeyStart}", nameof(spec));
        if (spec.RowLength < 0 || spec.RowLength > 0 && Math.Max((long)spec.QueryStart + t, (long)spec.KeyStart + s) > spec.RowLength)
            throw new ArgumentException($"AttentionSpec.RowLength is {spec.RowLength} but must be 0 or hold queries [{spec.QueryStart}, {(long)spec.QueryStart + t}) and keys [{spec.KeyStart}, {(long)spec.KeyStart + s})", nameof(spec));
        int heads = TotalHeads(spec, hq);
        if (spec.HeadStart < 0 || (long)spec.HeadStart + hq > heads)
            throw new ArgumentException($"AttentionSpec.HeadStart {spec.HeadStart} and TotalHeads {spec.TotalHeads} must hold the call's {hq} heads", nameof(spec));

        long row = RowLength(spec, t, s);
        int g = spec.GroupSize;
        if (g < 0 || g % 2 != 0)
            throw new ArgumentException($"AttentionSpec.GroupSize is {g} but must be 0 (off) or a positive even number", nameof(spec));
        if (g > 0 && row % g != 0)
            throw new ArgumentException($"AttentionSpec.GroupSize {g} must divide the row length {row} (RowLength, else the call's last position)", nameof(spec));
        if (g > 0 && heads % 2 != 0)
            throw new ArgumentException($"AttentionSpec.GroupSize needs an even head count (TotalHeads, else Hq) so that half the heads shift, got {heads}", nameof(spec));

        if (spec.SequenceStarts is not { } starts)
            return;
        if (starts.IsDisposed)
            throw new ObjectDisposedException(nameof(Tensor), "attention: AttentionSpec.SequenceStarts was used after it was disposed");
        if (starts.DType != DType.I32 || starts.Rank != 1 || !starts.IsContiguous)
            throw new ArgumentException($"AttentionSpec.SequenceStarts must be a contiguous int32 tensor of rank 1, got {starts.Describe()}", nameof(spec));
        if (starts.Device != device)
            throw new ArgumentException($"AttentionSpec.SequenceStarts is on {starts.Device}, but the {device} kernel reads it in its own memory", nameof(spec));
        if (!device.IsCpu)
            return;
        // On the cpu the values cost nothing to read: a tensor made without PackedStarts.Of is checked too.
        PackedStarts.Validate(Starts(spec), (long)b * row);
    }

    /// <summary>Throws an <see cref="ArgumentException"/> unless the kv heads divide the query heads and D is at least 1.</summary>
    internal static void ValidateHeads(int hq, int hkv, int d)
    {
        if (hkv < 1 || hq % hkv != 0)
            throw new ArgumentException($"attention needs Hq a multiple of Hkv, got Hq={hq}, Hkv={hkv}", nameof(hkv));
        if (d < 1)
            throw new ArgumentException($"attention needs a head dim D of at least 1, got {d}", nameof(d));
    }

    /// <summary>The values of <see cref="AttentionSpec.SequenceStarts"/> in host memory (none when null).</summary>
    internal static ReadOnlySpan<int> Starts(AttentionSpec spec) => spec.SequenceStarts is { } starts ? starts.AsSpan<int>() : default;

    /// <summary>Tokens in a whole row: <see cref="AttentionSpec.RowLength"/>, or where the call's positions end.</summary>
    internal static int RowLength(AttentionSpec spec, int t, int s)
        => spec.RowLength > 0 ? spec.RowLength : Math.Max(spec.QueryStart + t, spec.KeyStart + s);

    /// <summary>The layer's query heads: <see cref="AttentionSpec.TotalHeads"/>, or the call's hq.</summary>
    internal static int TotalHeads(AttentionSpec spec, int hq) => spec.TotalHeads > 0 ? spec.TotalHeads : hq;

    /// <summary>The first of the call's hq heads in the shifted half (hq if none is): its global index is H/2.</summary>
    internal static int FirstShiftedHead(AttentionSpec spec, int hq) => Math.Clamp(TotalHeads(spec, hq) / 2 - spec.HeadStart, 0, hq);

    /// <summary>
    /// lo in the call's key indices (at least 0) for every (batch row, head half, query) as [B, 2, T], index
    /// (r·2 + half)·T + t; the two halves differ only under S2-Attn. spec must have passed <see cref="Validate(AttentionSpec, int, int, int, int)"/>.
    /// </summary>
    public static int[] LowerBounds(AttentionSpec spec, int b, int t, int s)
    {
        var lo = new int[2 * b * t];
        int g = spec.GroupSize, row = RowLength(spec, t, s), q0 = spec.QueryStart, k0 = spec.KeyStart;
        var starts = Starts(spec);
        int first = 0;
        for (int r = 0; r < b; r++)
        {
            long rowStart = (long)r * row;
            while (first < starts.Length && starts[first] < rowStart)
                first++;
            for (int half = 0; half < 2; half++)
            {
                int next = first, sequence = 0;
                for (int q = 0; q < t; q++)
                {
                    int position = q0 + q;
                    while (next < starts.Length && starts[next] <= rowStart + position)
                        sequence = (int)(starts[next++] - rowStart);
                    lo[(r * 2 + half) * t + q] = Math.Max(0, Math.Max(sequence, GroupStart(position, g, half)) - k0);
                }
            }
        }
        return lo;
    }

    /// <summary>The last key (in the call's key indices) query t sees at most: its own position, cut to the call's keys.</summary>
    internal static int UpperBound(AttentionSpec spec, int t, int s) => Math.Min(spec.QueryStart + t - spec.KeyStart, s - 1);

    /// <summary>The first query of a row whose lo is past key: queries at or after it never see that key.</summary>
    public static int FirstQueryPast(ReadOnlySpan<int> rowLowerBounds, int key)
    {
        int a = 0, z = rowLowerBounds.Length;
        while (a < z)
        {
            int mid = (a + z) >>> 1;
            if (rowLowerBounds[mid] > key)
                z = mid;
            else
                a = mid + 1;
        }
        return a;
    }

    /// <summary>The first position of position q's S2-Attn group (G = <paramref name="g"/>, 0 = off) in head half <paramref name="half"/>.</summary>
    internal static int GroupStart(int q, int g, int half)
    {
        if (g == 0)
            return 0;
        if (half == 0)
            return q / g * g;
        // Shifted groups are [kG − G/2, kG + G/2), the first one cut at 0.
        return Math.Max(0, (q + g / 2) / g * g - g / 2);
    }
}
