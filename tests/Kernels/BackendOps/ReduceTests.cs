using RawLongLoRA;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>Sum / Mean / Max / Min / SumOfSquares over every set of dims and ArgMax over each dim, with strided inputs and outputs.</summary>
public sealed class BackendOpsReduceTests
{
    private static readonly (View Src, View Dst)[] ViewPairs =
    [
        (View.Contiguous, View.Contiguous),
        (View.Transposed, View.Padded),
        (View.Reversed, View.Contiguous),
        (View.Padded, View.Stepped),
    ];

    public static TheoryData<ReduceOp, int, int> ReduceCases()
    {
        var data = new TheoryData<ReduceOp, int, int>();
        foreach (var op in new[] { ReduceOp.Sum, ReduceOp.Mean, ReduceOp.Max, ReduceOp.Min, ReduceOp.SumOfSquares })
            for (int mask = 0; mask < 8; mask++)
                for (int v = 0; v < ViewPairs.Length; v++)
                    data.Add(op, mask, v);
        return data;
    }

    /// <summary>Reduces the dims whose bit is set in <paramref name="mask"/> of a [3, 4, 37] tensor.</summary>
    [Theory]
    [MemberData(nameof(ReduceCases))]
    public void ReduceOverAnySetOfDims(ReduceOp op, int mask, int views)
    {
        int[] shape = [3, 4, 37];
        var reduced = new[] { (mask & 1) != 0, (mask & 2) != 0, (mask & 4) != 0 };
        AssertReduce(op, shape, reduced, ViewPairs[views].Src, ViewPairs[views].Dst, new Random(mask * 10 + views));
    }

    [Theory]
    [InlineData(ReduceOp.Sum, 1, View.Contiguous, View.Contiguous)]
    [InlineData(ReduceOp.Sum, 2, View.Transposed, View.Contiguous)]
    [InlineData(ReduceOp.Mean, 3, View.Contiguous, View.Contiguous)]
    [InlineData(ReduceOp.Mean, 2, View.Padded, View.Stepped)]
    [InlineData(ReduceOp.Max, 1, View.Transposed, View.Padded)]
    [InlineData(ReduceOp.Min, 2, View.Contiguous, View.Contiguous)]
    [InlineData(ReduceOp.Max, 3, View.Reversed, View.Contiguous)]
    [InlineData(ReduceOp.SumOfSquares, 3, View.Contiguous, View.Contiguous)]
    [InlineData(ReduceOp.SumOfSquares, 1, View.Transposed, View.Padded)]
    public void LargeReductionsRunTheParallelPath(ReduceOp op, int mask, View srcView, View dstView)
        => AssertReduce(op, [301, 257], [(mask & 1) != 0, (mask & 2) != 0], srcView, dstView, new Random(mask));

    [Fact]
    public void ReduceOfAnExpandedInputAndOfEmptyDims()
    {
        using var scope = new DisposeScope();
        var row = Uniform(new Random(2), 37, -1, 1);
        var src = Expanded(row, [1, 37], [9, 37]);
        var dst = Output([1, 37]);
        Cpu.Reduce(ReduceOp.Sum, dst, src);
        AssertClose("sum of expanded", Array.ConvertAll(row, v => 9 * v), Read(dst));

        var empty = Tensor.Empty([0, 5]);
        var sum = Output([1, 5]);
        Cpu.Reduce(ReduceOp.Sum, sum, empty);
        AssertExact("sum over an empty dim", new double[5], Read(sum));
    }

    [Fact]
    public void MaxAndMinPropagateNaN()
    {
        using var scope = new DisposeScope();
        var x = Uniform(new Random(4), 5 * 37, -1, 1);
        x[2 * 37 + 5] = double.NaN;
        x[4 * 37 + 36] = double.NaN;
        foreach (var op in new[] { ReduceOp.Max, ReduceOp.Min })
            foreach (var reduced in new[] { new[] { true, false }, new[] { false, true }, new[] { true, true } })
            {
                var dst = Output(BackendReference.KeepDimShape([5, 37], reduced));
                Cpu.Reduce(op, dst, Place(x, [5, 37]));
                AssertClose($"reduce {op} with NaN", BackendReference.Reduce(op, x, [5, 37], reduced), Read(dst));
            }
    }

    private static void AssertReduce(ReduceOp op, int[] shape, bool[] reduced, View srcView, View dstView, Random rng)
    {
        using var scope = new DisposeScope();
        var x = Uniform(rng, BackendReference.Numel(shape), -2, 2);
        var outShape = BackendReference.KeepDimShape(shape, reduced);
        var dst = Output(outShape, DType.F32, dstView);
        Cpu.Reduce(op, dst, Place(x, shape, srcView));
        string what = $"reduce {op} of {Shapes.Format(shape)} over [{string.Join(", ", reduced)}]";
        AssertClose(what, BackendReference.Reduce(op, x, shape, reduced), Read(dst));
        AssertGapsUntouched(dst, what);
    }

    // ---- argmax

    public static TheoryData<int, View, View> ArgMaxCases()
    {
        var data = new TheoryData<int, View, View>();
        for (int dim = 0; dim < 3; dim++)
            foreach (var (s, d) in new[] { (View.Contiguous, View.Contiguous), (View.Transposed, View.Padded), (View.Reversed, View.Stepped) })
                data.Add(dim, s, d);
        return data;
    }

    [Theory]
    [MemberData(nameof(ArgMaxCases))]
    public void ArgMaxPicksTheFirstMaximum(int dim, View srcView, View dstView)
    {
        using var scope = new DisposeScope();
        int[] shape = [3, 7, 33];
        // Few distinct values, so ties are common and the first index must win.
        var rng = new Random(dim);
        var x = new double[BackendReference.Numel(shape)];
        for (int i = 0; i < x.Length; i++)
            x[i] = rng.Next(-3, 4);
        var reduced = new bool[3];
        reduced[dim] = true;
        var dst = Output(BackendReference.KeepDimShape(shape, reduced), DType.I64, dstView);
        Cpu.Reduce(ReduceOp.ArgMax, dst, Place(x, shape, srcView));
        Assert.Equal(BackendReference.ArgMax(x, shape, dim), ReadLongs(dst));
        AssertGapsUntouched(dst, "argmax output");
    }

    [Fact]
    public void ArgMaxLargeAndWithNaN()
    {
        using var scope = new DisposeScope();
        int[] shape = [301, 257];
        var x = Uniform(new Random(8), BackendReference.Numel(shape), -1, 1);
        x[5 * 257 + 100] = double.NaN;
        x[5 * 257 + 200] = double.NaN;
        x[7 * 257] = double.NaN;
        foreach (int dim in new[] { 0, 1 })
        {
            var reduced = new[] { dim == 0, dim == 1 };
            var dst = Output(BackendReference.KeepDimShape(shape, reduced), DType.I64);
            Cpu.Reduce(ReduceOp.ArgMax, dst, Place(x, shape, View.Transposed));
            Assert.Equal(BackendReference.ArgMax(x, shape, dim), ReadLongs(dst));
        }
    }

    [Fact]
    public void ReduceBadInputNamesTheOpShapesAndDTypes()
    {
        using var scope = new DisposeScope();
        AssertThrows(() => Cpu.Reduce(ReduceOp.Sum, Tensor.Empty([3, 2]), Tensor.Empty([3, 4])), "reduce Sum", "[3, 2]", "[3, 4]");
        AssertThrows(() => Cpu.Reduce(ReduceOp.Mean, Tensor.Empty([3]), Tensor.Empty([3, 4])), "reduce Mean", "[3]", "[3, 4]");
        AssertThrows(() => Cpu.Reduce(ReduceOp.Max, Tensor.Empty([3, 1]), Tensor.Empty([3, 4], DType.BF16)), "reduce Max", "bfloat16");
        AssertThrows(() => Cpu.Reduce(ReduceOp.Min, Tensor.Empty([3, 1], DType.I32), Tensor.Empty([3, 4])), "reduce Min", "int32");
        AssertThrows(() => Cpu.Reduce(ReduceOp.ArgMax, Tensor.Empty([3, 1]), Tensor.Empty([3, 4])), "reduce ArgMax", "int64", "float32");
        AssertThrows(() => Cpu.Reduce(ReduceOp.ArgMax, Tensor.Empty([1, 1], DType.I64), Tensor.Empty([3, 4])), "reduce ArgMax", "one");
    }
}
