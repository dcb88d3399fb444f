namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// A tensor's shape and element strides as an ILGPU kernel parameter (rank ≤ 6; a kernel may take no arrays, so
/// the dims are fields): <see cref="Offset"/> maps a row-major position of the shape to an element offset. A
/// broadcast operand has stride 0 in its expanded dims.
/// </summary>
public struct Strided
{
    /// <summary>The most dims a kernel parameter holds; higher ranks are collapsed first or refused.</summary>
    public const int MaxRank = 6;

    /// <summary>Sizes of dims 0…5 (a shape of lower rank fills the last ones; the leading dims have size 1).</summary>
    public int S0, S1, S2, S3, S4, S5;
    /// <summary>Element strides of dims 0…5.</summary>
    public long T0, T1, T2, T3, T4, T5;

    /// <summary>Elements: the product of the sizes.</summary>
    public readonly long Numel => (long)S0 * S1 * S2 * S3 * S4 * S5;

    /// <summary>The element offset of row-major position <paramref name="linear"/>.</summary>
    public readonly long Offset(long linear)
    {
        long o = 0, r;
        r = linear % S5; linear /= S5; o += r * T5;
        r = linear % S4; linear /= S4; o += r * T4;
        r = linear % S3; linear /= S3; o += r * T3;
        r = linear % S2; linear /= S2; o += r * T2;
        r = linear % S1; linear /= S1; o += r * T1;
        return o + linear * T0;
    }

    /// <summary>
    /// The layout of <paramref name="t"/> viewed as <paramref name="shape"/> (its own shape, or one it broadcasts to:
    /// right-aligned, size-1 dims get stride 0). Throws naming <paramref name="op"/> past rank 6.
    /// </summary>
    public static Strided Of(string op, Tensor t, ReadOnlySpan<int> shape)
    {
        if (shape.Length > MaxRank)
            throw Check.Fail(op, $"the GPU kernels take at most {MaxRank} dims", t);
        Span<int> s = stackalloc int[MaxRank];
        Span<long> st = stackalloc long[MaxRank];
        s.Fill(1);
        st.Clear();
        int lead = MaxRank - shape.Length, tlead = shape.Length - t.Rank;
        for (int d = 0; d < shape.Length; d++)
        {
            s[lead + d] = shape[d];
            int td = d - tlead;
            st[lead + d] = td < 0 || t.Shape[td] == 1 && shape[d] != 1 ? 0 : t.Strides[td];
        }
        return new Strided
        {
            S0 = s[0], S1 = s[1], S2 = s[2], S3 = s[3], S4 = s[4], S5 = s[5],
            T0 = st[0], T1 = st[1], T2 = st[2], T3 = st[3], T4 = st[4], T5 = st[5],
        };
    }

    /// <summary>The layout of <paramref name="t"/> in its own shape.</summary>
    public static Strided Of(string op, Tensor t) => Of(op, t, t.Shape);
}
