using RawLongLoRA;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>Unary and broadcasting binary ops against the float64 reference, over any strides.</summary>
public sealed class BackendOpsElementwiseTests
{
    private static readonly (View Src, View Dst)[] ViewPairs =
    [
        (View.Contiguous, View.Contiguous),
        (View.Transposed, View.Padded),
        (View.Stepped, View.Reversed),
    ];

    public static TheoryData<UnaryOp, View, View> UnaryCases()
    {
        var data = new TheoryData<UnaryOp, View, View>();
        foreach (var op in Enum.GetValues<UnaryOp>())
            foreach (var (s, d) in ViewPairs)
                data.Add(op, s, d);
        return data;
    }

    /// <summary>Inputs inside the op's domain, and the alpha it takes.</summary>
    internal static (double Lo, double Hi, float Alpha) Domain(UnaryOp op) => op switch
    {
        UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.Rsqrt => (0.05, 4, 0),
        UnaryOp.Reciprocal => (0.2, 3, 0),
        UnaryOp.Exp => (-10, 10, 0),
        UnaryOp.Sigmoid or UnaryOp.Silu or UnaryOp.Tanh => (-12, 12, 0),
        UnaryOp.Scale => (-4, 4, -1.7f),
        UnaryOp.AddScalar => (-4, 4, 0.3f),
        UnaryOp.Pow => (0.1, 3, 2.5f),
        _ => (-4, 4, 0),
    };

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void UnaryMatchesReference(UnaryOp op, View srcView, View dstView)
    {
        using var scope = new DisposeScope();
        // 7 × 37: odd rows, and a tail after the vector loop (8 or 16 lanes) in every row.
        int[] shape = [7, 37];
        var (lo, hi, alpha) = Domain(op);
        var x = Uniform(new Random(100 + (int)op), 7 * 37, lo, hi);
        if (op == UnaryOp.Reciprocal)
            for (int i = 0; i < x.Length; i += 2)
                x[i] = -x[i];
        var src = Place(x, shape, srcView);
        var dst = Output(shape, DType.F32, dstView);
        Cpu.Unary(op, dst, src, alpha);
        AssertClose($"unary {op}", BackendReference.Unary(op, x, alpha), Read(dst));
        AssertGapsUntouched(dst, $"unary {op} output");
    }

    [Theory]
    [InlineData(UnaryOp.Pow, 3f)]
    [InlineData(UnaryOp.Pow, -2f)]
    [InlineData(UnaryOp.Pow, 0.5f)]
    [InlineData(UnaryOp.Scale, 0f)]
    public void UnaryAlphaEdgeCases(UnaryOp op, float alpha)
    {
        using var scope = new DisposeScope();
        // Integer powers of negative numbers are real; 0.5 of a negative is NaN, as torch.pow gives.
        var x = Uniform(new Random(7), 33, -3, 3);
        var dst = Output([33]);
        Cpu.Unary(op, dst, Place(x, [33]), alpha);
        AssertClose($"unary {op} alpha {alpha}", BackendReference.Unary(op, x, alpha), Read(dst));
    }

    [Fact]
    public void UnaryPropagatesNaNInVectorAndTailLanes()
    {
        using var scope = new DisposeScope();
        // 19 elements: lanes 0..15 go through the vector loop (8 or 16 wide), 16..18 through the tail.
        var x = new double[19];
        for (int i = 0; i < x.Length; i++)
            x[i] = i % 4 == 1 ? double.NaN : i - 5;
        foreach (var op in Enum.GetValues<UnaryOp>())
        {
            var dst = Output([19]);
            Cpu.Unary(op, dst, Place(x, [19]), 2f);
            var got = Read(dst);
            for (int i = 1; i < x.Length; i += 4)
                Assert.True(double.IsNaN(got[i]), $"unary {op}: NaN at [{i}] became {got[i]}");
        }
    }

    [Fact]
    public void UnaryInPlaceAndLargeStrided()
    {
        using var scope = new DisposeScope();
        int[] shape = [301, 257];
        var x = Uniform(new Random(9), BackendReference.Numel(shape), -5, 5);
        var t = Place(x, shape, View.Transposed);
        Cpu.Unary(UnaryOp.Silu, t, t);
        AssertClose("unary Silu in place", BackendReference.Unary(UnaryOp.Silu, x, 0), Read(t));
        var c = Place(x, shape);
        Cpu.Unary(UnaryOp.Exp, c, c);
        AssertClose("unary Exp in place", BackendReference.Unary(UnaryOp.Exp, x, 0), Read(c));
    }

    [Fact]
    public void UnaryBadInputNamesTheOpAndTheDTypes()
    {
        using var scope = new DisposeScope();
        AssertThrows(() => Cpu.Unary(UnaryOp.Exp, Tensor.Empty([4]), Tensor.Empty([4], DType.I32)), "unary Exp", "int32");
        AssertThrows(() => Cpu.Unary(UnaryOp.Neg, Tensor.Empty([4], DType.BF16), Tensor.Empty([4])), "unary Neg", "bfloat16");
        AssertThrows(() => Cpu.Unary(UnaryOp.Sqrt, Tensor.Empty([4, 3]), Tensor.Empty([3, 4])), "unary Sqrt", "[4, 3]", "[3, 4]");
    }

    // ---- binary

    /// <summary>(a shape, b shape, out shape): equal, broadcast either way, scalars, and new leading dims.</summary>
    private static readonly (int[] A, int[] B, int[] Out)[] Broadcasts =
    [
        ([5, 37], [5, 37], [5, 37]),
        ([4, 1, 37], [5, 1], [4, 5, 37]),
        ([5, 1], [4, 1, 37], [4, 5, 37]),
        ([37], [3, 5, 37], [3, 5, 37]),
        ([3, 5, 37], [], [3, 5, 37]),
        ([1], [7, 1], [7, 9]),
    ];

    public static TheoryData<BinaryOp, int, View> BinaryCases()
    {
        var data = new TheoryData<BinaryOp, int, View>();
        foreach (var op in Enum.GetValues<BinaryOp>())
            for (int b = 0; b < Broadcasts.Length; b++)
                data.Add(op, b, b % 2 == 0 ? View.Contiguous : View.Padded);
        return data;
    }

    private static (double[] A, double[] B) BinaryInputs(BinaryOp op, long na, long nb, Random rng)
    {
        var a = Uniform(rng, na, -3, 3);
        var b = Uniform(rng, nb, -3, 3);
        if (op == BinaryOp.Div)
            b = Array.ConvertAll(b, v => (double)(float)(v >= 0 ? v + 0.25 : v - 0.25));
        if (op is BinaryOp.Maximum or BinaryOp.Minimum)
            for (long i = 0; i < Math.Min(na, nb); i += 3)
                a[i] = b[i]; // ties
        return (a, b);
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void BinaryMatchesReferenceWithBroadcast(BinaryOp op, int broadcast, View view)
    {
        using var scope = new DisposeScope();
        var (sa, sb, so) = Broadcasts[broadcast];
        var (a, b) = BinaryInputs(op, BackendReference.Numel(sa), BackendReference.Numel(sb), new Random(31 * (int)op + broadcast));
        var dst = Output(so, DType.F32, view);
        Cpu.Binary(op, dst, Place(a, sa, view), Place(b, sb, view == View.Padded ? View.Transposed : view));
        AssertClose($"binary {op} {Shapes.Format(sa)} with {Shapes.Format(sb)}", BackendReference.Binary(op, a, sa, b, sb, so), Read(dst));
        AssertGapsUntouched(dst, $"binary {op} output");
    }

    public static TheoryData<BinaryOp> BinaryOps()
    {
        var data = new TheoryData<BinaryOp>();
        foreach (var op in Enum.GetValues<BinaryOp>())
            data.Add(op);
        return data;
    }

    [Theory]
    [MemberData(nameof(BinaryOps))]
    public void BinaryWithExplicitStrideZeroViewsAndNonContiguousOutput(BinaryOp op)
    {
        using var scope = new DisposeScope();
        // a is a [1, 37] row expanded to [9, 37] (stride 0), b a [9, 1] column expanded the other way;
        // the output is transposed in memory.
        int[] shape = [9, 37];
        var (a, b) = BinaryInputs(op, 37, 9, new Random(5 + (int)op));
        var dst = Output(shape, DType.F32, View.Transposed);
        Cpu.Binary(op, dst, Expanded(a, [1, 37], shape), Expanded(b, [9, 1], shape));
        AssertClose($"binary {op} of expanded views", BackendReference.Binary(op, a, [1, 37], b, [9, 1], shape), Read(dst));
        AssertGapsUntouched(dst, $"binary {op} output");
    }

    [Theory]
    [InlineData(View.Contiguous)]
    [InlineData(View.Transposed)]
    [InlineData(View.Stepped)]
    public void LargeBinaryRunsTheParallelPath(View view)
    {
        using var scope = new DisposeScope();
        int[] so = [301, 257], sb = [301, 1];
        var rng = new Random(11);
        var a = Uniform(rng, 301 * 257, -3, 3);
        var b = Uniform(rng, 301, -3, 3);
        var dst = Output(so, DType.F32, view);
        Cpu.Binary(BinaryOp.Mul, dst, Place(a, so, view), Place(b, sb, view));
        AssertClose("binary Mul large", BackendReference.Binary(BinaryOp.Mul, a, so, b, sb, so), Read(dst));
        Cpu.Binary(BinaryOp.Add, dst, dst, Place(b, [301, 1]));
        AssertClose("binary Add in place", BackendReference.Binary(BinaryOp.Add, BackendReference.Binary(BinaryOp.Mul, a, so, b, sb, so), so, b, sb, so), Read(dst));
    }

    [Fact]
    public void MaximumAndMinimumPropagateNaNInVectorAndTailLanes()
    {
        using var scope = new DisposeScope();
        var a = new double[19];
        var b = new double[19];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = i % 3 == 0 ? double.NaN : i;
            b[i] = i % 4 == 0 ? double.NaN : -i;
        }
        foreach (var op in new[] { BinaryOp.Maximum, BinaryOp.Minimum })
        {
            var dst = Output([19]);
            Cpu.Binary(op, dst, Place(a, [19]), Place(b, [19]));
            AssertClose($"binary {op} with NaN", BackendReference.Binary(op, a, [19], b, [19], [19]), Read(dst));
        }
    }

    [Fact]
    public void ScalarAndEmptyTensors()
    {
        using var scope = new DisposeScope();
        var dst = Output([]);
        Cpu.Binary(BinaryOp.Sub, dst, Place([2.5], []), Place([0.75], [1]).Restride(Layout.Contiguous([])));
        AssertExact("rank-0 sub", [1.75], Read(dst));
        Cpu.Unary(UnaryOp.Neg, dst, dst);
        AssertExact("rank-0 neg", [-1.75], Read(dst));
        Cpu.Unary(UnaryOp.Exp, Tensor.Empty([0, 5]), Tensor.Empty([0, 5]));
        Cpu.Binary(BinaryOp.Add, Tensor.Empty([3, 0]), Tensor.Empty([3, 0]), Tensor.Empty([1]));
    }

    [Fact]
    public void BinaryBadInputNamesTheOpShapesAndDTypes()
    {
        using var scope = new DisposeScope();
        AssertThrows(() => Cpu.Binary(BinaryOp.Add, Tensor.Empty([4, 5]), Tensor.Empty([4, 5]), Tensor.Empty([3])), "binary Add", "[3]", "[4, 5]");
        AssertThrows(() => Cpu.Binary(BinaryOp.Mul, Tensor.Empty([4, 5]), Tensor.Empty([4, 5], DType.BF16), Tensor.Empty([4, 5])), "binary Mul", "bfloat16");
        AssertThrows(() => Cpu.Binary(BinaryOp.Sub, Tensor.Empty([4, 5], DType.I64), Tensor.Empty([4, 5]), Tensor.Empty([4, 5])), "binary Sub", "int64");
        // An output with stride 0 would have several results race for one element.
        var row = Tensor.Empty([1, 5]);
        AssertThrows(() => Cpu.Binary(BinaryOp.Add, row.Restride(row.Layout.Expand([4, 5])), Tensor.Empty([4, 5]), Tensor.Empty([4, 5])), "binary Add", "broadcast");
    }
}
