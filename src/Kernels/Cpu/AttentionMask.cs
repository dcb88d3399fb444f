namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// The one definition of attention's masks, for every backend. All masks are causal with a key lower
/// bound: query t of batch row r sees keys [lo, t + KvOffset], where lo is the later of the start of
/// t's packed sequence and the start of its S2-Attn group (heads [Hq/2, Hq) use groups shifted by G/2).
/// lo never decreases with t, so a tile of queries sees one contiguous run of keys; kernels rely on it.
/// </summary>
public static class AttentionMask
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the field when spec does not fit the shapes.</summary>
    public static void Validate(AttentionSpec spec, int b, int t, int s, int hq)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (b < 1 || t < 1 || s < 1 || hq < 1)
            throw new ArgumentException($"attention needs B, T, S and Hq of at least 1, got B={b}, T={t}, S={s}, Hq={hq}");
        if (spec.KvOffset != s - t)
            throw new ArgumentException($"AttentionSpec.KvOffset is {spec.KvOffset} but must be S - T = {s} - {t}: the queries are the last T of the S positions", nameof(spec));

        int g = spec.GroupSize;
        if (g < 0 || g % 2 != 0)
            throw new ArgumentException($"AttentionSpec.GroupSize is {g} but must be 0 (off) or a positive even number", nameof(spec));
        if (g > 0 && t % g != 0)
            throw new ArgumentException($"AttentionSpec.GroupSize {g} must divide T = {t}", nameof(spec));
        if (g > 0 && s != t)
            throw new ArgumentException($"AttentionSpec.GroupSize needs S == T and KvOffset == 0 (no KV cache), got S={s}, T={t}", nameof(spec));
        if (g > 0 && hq % 2 != 0)
            throw new ArgumentException($"AttentionSpec.GroupSize needs an even head count so that half the heads shift, got Hq={hq}", nameof(spec));

        if (spec.SequenceStarts is not { } starts)
            return;
        if (s != t)
            throw new ArgumentException($"AttentionSpec.SequenceStarts needs S == T and KvOffset == 0 (no KV cache), got S={s}, T={t}", nameof(spec));
        long total = (long)b * t;
        for (int i = 0; i < starts.Length; i++)
        {
            if (starts[i] < 0 || starts[i] >= total)
                throw new ArgumentException($"AttentionSpec.SequenceStarts[{i}] = {starts[i]} is outside the B·T stream [0, {total})", nameof(spec));
            if (i > 0 && starts[i] <= starts[i - 1])
                throw new ArgumentException($"AttentionSpec.SequenceStarts must be strictly ascending, but [{i - 1}] = {starts[i - 1]} and [{i}] = {starts[i]}", nameof(spec));
        }
    }

    /// <summary>Which half of the heads head h is in: 0 uses groups [kG, (k+1)G), 1 the shifted ones.</summary>
    public static int Half(int head, int hq) => head < hq / 2 ? 0 : 1;

    /// <summary>
    /// lo for every (batch row, head half, query) as [B, 2, T], index (r·2 + half)·T + t; the two halves
    /// differ only under S2-Attn. spec must have passed <see cref="Validate"/>.
    /// </summary>
    public static int[] LowerBounds(AttentionSpec spec, int b, int t)
    {
        var lo = new int[2 * b * t];
        int g = spec.GroupSize;
        int[] starts = spec.SequenceStarts ?? [];
        int first = 0;
        for (int r = 0; r < b; r++)
        {
            int rowStart = r * t;
            while (first < starts.Length && starts[first] < rowStart)
                first++;
            for (int half = 0; half < 2; half++)
            {
                int next = first, sequence = 0;
                for (int q = 0; q < t; q++)
                {
                    while (next < starts.Length && starts[next] <= rowStart + q)
                        sequence = starts[next++] - rowStart;
                    lo[(r * 2 + half) * t + q] = Math.Max(sequence, GroupStart(q, g, half));
                }
            }
        }
        return lo;
    }

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

    private static int GroupStart(int q, int g, int half)
    {
        if (g == 0)
            return 0;
        if (half == 0)
            return q / g * g;
        // Shifted groups are [kG − G/2, kG + G/2), the first one cut at 0.
        return Math.Max(0, (q + g / 2) / g * g - g / 2);
    }
}
