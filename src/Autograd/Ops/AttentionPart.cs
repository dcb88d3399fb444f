using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>
/// A part of one attention: its queries' o [B, T, Hq, D] and lse [B, Hq, T] over one block of keys, as
/// <see cref="AttentionOp"/>'s AttentionPart makes it. Both live in one flat tensor, o's elements then lse's,
/// so that one autograd node carries them. Parts over disjoint blocks of keys merge, in any order, into the
/// attention over all of them (<see cref="Merge"/>): blockwise and sequence-parallel attention are built of this.
/// </summary>
public sealed class AttentionPart
{
    private readonly int[] _shape;

    private AttentionPart(Tensor packed, int[] shape)
    {
        Packed = packed;
        _shape = shape;
    }

    /// <summary>o's elements then lse's, flat: [B·T·Hq·D + B·Hq·T]; its history is the part's.</summary>
    public Tensor Packed { get; }

    /// <summary>o [B, T, Hq, D]: the attention over this part's keys alone; 0 for a query that sees none of them.</summary>
    public Tensor O => Packed.Narrow(0, 0, OCount).View(_shape);

    /// <summary>lse [B, Hq, T]: the log-sum-exp of each query's scores over this part's keys; −∞ where it sees none.</summary>
    public Tensor Lse => Packed.Narrow(0, OCount, LseCount).View(LseShape);

    private int OCount => _shape[0] * _shape[1] * _shape[2] * _shape[3];

    private int LseCount => _shape[0] * _shape[2] * _shape[1];

    private int[] LseShape => [_shape[0], _shape[2], _shape[1]];

    /// <summary>
    /// The attention over the keys of both parts (same queries, disjoint keys) by the online-softmax rule:
    /// lse = log(e^lseA + e^lseB), o = e^(lseA − lse)·oA + e^(lseB − lse)·oB; differentiable in both parts.
    /// </summary>
    public static AttentionPart Merge(AttentionPart a, AttentionPart b)
    {
        const string op = "attention_merge";
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        using var profile = Profiler.Op(op, a.Packed, b.Packed);
        Check.Alive(op, a.Packed, b.Packed);
        var backend = Graph.Backend(op, a.Packed, b.Packed);
        if (!a._shape.AsSpan().SequenceEqual(b._shape))
            throw Check.Fail(op, $"parts must hold the same queries and heads, but o is [{string.Join(", ", a._shape)}] and [{string.Join(", ", b._shape)}]", a.Packed, b.Packed);
        var merged = Empty(a._shape, a.Packed);
        var (aData, bData, mData) = (a.Data(), b.Data(), merged.Data());
        using (var o = merged.OData(mData))
        using (var lse = merged.LseData(mData))
        using (var oA = a.OData(aData))
        using (var lseA = a.LseData(aData))
        using (var oB = b.OData(bData))
        using (var lseB = b.LseData(bData))
            backend.AttentionMerge(o, lse, oA, lseA, oB, lseB);
        Graph.Record(merged.Packed, op, [a.Packed, b.Packed], [aData, bData, mData], (g, need) =>
        {
            var (dout, dlse) = merged.Split(g);
            var da = Empty(a._shape, g);
            var db = Empty(a._shape, g);
            Graph.Backend(op, g, aData).AttentionMergeBackward(da.OData(da.Packed), da.LseData(da.Packed), db.OData(db.Packed), db.LseData(db.Packed), dout, dlse,
                a.OData(aData), a.LseData(aData), b.OData(bData), b.LseData(bData), merged.OData(mData), merged.LseData(mData));
            return [need[0] ? da.Packed : null, need[1] ? db.Packed : null];
        });
        return merged;
    }

    /// <summary>A part for o of <paramref name="shape"/> [B, T, Hq, D], unwritten, on the device of <paramref name="like"/>.</summary>
    internal static AttentionPart Empty(int[] shape, Tensor like)
    {
        long n = (long)shape[0] * shape[1] * shape[2] * shape[3] + (long)shape[0] * shape[2] * shape[1];
        return new AttentionPart(Graph.Empty([checked((int)n)], like), shape);
    }

    /// <summary>A handle on the packed data with no history (the caller disposes it).</summary>
    internal Tensor Data() => Packed.Restride(Packed.Layout);

    /// <summary>o [B, T, Hq, D] inside <paramref name="packed"/> (this part's data or gradient), as a new handle.</summary>
    internal Tensor OData(Tensor packed) => packed.Restride(Layout.Contiguous(_shape, packed.Layout.Offset));

    /// <summary>lse [B, Hq, T] inside <paramref name="packed"/>, as a new handle.</summary>
    internal Tensor LseData(Tensor packed) => packed.Restride(Layout.Contiguous(LseShape, packed.Layout.Offset + OCount));

    /// <summary>o's and lse's gradients inside the packed gradient g (made contiguous first).</summary>
    internal (Tensor Dout, Tensor? Dlse) Split(Tensor g)
    {
        var c = Graph.ContiguousData(g);
        return (OData(c), LseData(c));
    }
}
