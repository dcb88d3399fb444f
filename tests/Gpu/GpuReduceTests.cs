using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>
/// Reduce on the ILGPU backend (CPU accelerator: groups of up to 16 threads, warps of 4) against the CPU backend: every
/// op over every set of dims, counts above and below the group size, strided and expanded inputs, NaN, ties, empty dims.
/// </summary>
public sealed class GpuReduceTests
{
    public static TheoryData<ReduceOp, int> Cases()
    {
        var d = new TheoryData<ReduceOp, int>();
        foreach (var op in new[] { ReduceOp.Sum, ReduceOp.Mean, ReduceOp.Max, ReduceOp.Min, ReduceOp.SumOfSquares })
            for (int mask = 1; mask < 8; mask++)
                d.Add(op, mask);
        return d;
    }

    /// <summary>Reduces the dims whose bit is set in <paramref name="mask"/> of a [3, 5, 13] tensor (13 × 5 = 65 &gt; 16 threads).</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void ReduceMatchesTheCpu(ReduceOp op, int mask)
    {
        using var scope = new DisposeScope();
        int[] shape = [3, 5, 13];
        bool[] reduced = [(mask & 1) != 0, (mask & 2) != 0, (mask & 4) != 0];
        var x = Uniform(new Random(mask * 7 + (int)op), BackendReference.Numel(shape), -2, 2);
        var (sv, dv) = mask % 2 == 0 ? (View.Transposed, View.Padded) : (View.Reversed, View.Stepped);
        Check(op, Place(x, shape, sv), BackendReference.KeepDimShape(shape, reduced), DType.F32, dv);
    }

    [Fact]
    public void ReduceOfExpandedNaNAndEmptyInputs()
    {
        using var scope = new DisposeScope();
        var row = Uniform(new Random(2), 13, -1, 1);
        Check(ReduceOp.Sum, Expanded(row, [1, 13], [9, 13]), [1, 13], DType.F32, View.Contiguous);
        Check(ReduceOp.Mean, Expanded(row, [1, 13], [9, 13]), [9, 1], DType.F32, View.Padded);
        var x = Uniform(new Random(4), 5 * 7, -1, 1);
        x[2 * 7 + 5] = double.NaN;
        foreach (var op in new[] { ReduceOp.Max, ReduceOp.Min })
        {
            Check(op, Place(x, [5, 7]), [5, 1], DType.F32, View.Contiguous);
            Check(op, Place(x, [5, 7]), [1, 7], DType.F32, View.Contiguous);
        }
        foreach (var op in new[] { ReduceOp.Sum, ReduceOp.Mean, ReduceOp.Max })
            Check(op, Tensor.Empty([0, 5]), [1, 5], DType.F32, View.Contiguous);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void ArgMaxTakesTheFirstMaximumAndNaN(int dim)
    {
        using var scope = new DisposeScope();
        int[] shape = [3, 4, 21];
        // Few distinct values: ties are common and the first index must win, whichever thread saw it.
        var rng = new Random(dim);
        var x = new double[BackendReference.Numel(shape)];
        for (int i = 0; i < x.Length; i++)
            x[i] = rng.Next(-2, 3);
        x[7] = x[30] = double.NaN;
        var reduced = new bool[3];
        reduced[dim] = true;
        Check(ReduceOp.ArgMax, Place(x, shape, View.Transposed), BackendReference.KeepDimShape(shape, reduced), DType.I64, View.Padded);
    }

    [Fact]
    public void BadInputIsRefusedByName()
    {
        using var scope = new DisposeScope();
        var gpu = IlgpuDevice.Backend;
        Tensor On(int[] shape, DType dtype = DType.F32) => IlgpuDevice.Mirror(Tensor.Zeros(shape, dtype));
        AssertThrows(() => gpu.Reduce(ReduceOp.Sum, On([3]), On([3, 4])), "reduce Sum", "rank 2");
        AssertThrows(() => gpu.Reduce(ReduceOp.Max, On([2, 4]), On([3, 4])), "reduce Max", "keepdim");
        AssertThrows(() => gpu.Reduce(ReduceOp.ArgMax, On([3, 1]), On([3, 4])), "reduce ArgMax", "int64");
        AssertThrows(() => gpu.Reduce(ReduceOp.ArgMax, On([1, 1], DType.I64), On([3, 4])), "reduce ArgMax", "exactly one");
        AssertThrows(() => gpu.Reduce(ReduceOp.Mean, On([3, 1]), On([3, 4], DType.BF16)), "reduce Mean", "bfloat16");
    }

    private static void Check(ReduceOp op, Tensor src, int[] outShape, DType dtype, View dstView)
    {
        var want = Output(outShape, dtype, dstView);
        Cpu.Reduce(op, want, src);
        var dst = IlgpuDevice.Mirror(Output(outShape, dtype, dstView));
        IlgpuDevice.Backend.Reduce(op, dst, IlgpuDevice.Mirror(src));
        var got = IlgpuDevice.Back(dst);
        string what = $"reduce {op} of {Shapes.Format(src.Shape)} into {Shapes.Format(outShape)}";
        if (dtype == DType.I64)
            Assert.Equal(ReadLongs(want), ReadLongs(got));
        else
            AssertClose(what, Read(want), Read(got));
        AssertGapsUntouched(got, what);
    }
}
