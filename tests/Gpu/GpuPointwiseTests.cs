using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>Unary and Binary on the ILGPU backend (CPU accelerator) against the CPU backend: every op, strided, broadcast and expanded operands, in place, poisoned outputs, bad input.</summary>
public sealed class GpuPointwiseTests
{
    private static readonly (View Src, View Dst)[] ViewPairs = [(View.Contiguous, View.Contiguous), (View.Transposed, View.Padded), (View.Stepped, View.Reversed)];

    public static TheoryData<UnaryOp, int> UnaryCases()
    {
        var d = new TheoryData<UnaryOp, int>();
        foreach (var op in Enum.GetValues<UnaryOp>())
            for (int v = 0; v < ViewPairs.Length; v++)
                d.Add(op, v);
        return d;
    }

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void UnaryMatchesTheCpu(UnaryOp op, int views)
    {
        using var scope = new DisposeScope();
        int[] shape = [3, 5];
        var (lo, hi, alpha) = BackendOpsElementwiseTests.Domain(op);
        var x = Uniform(new Random(10 + (int)op), 15, lo, hi);
        var src = Place(x, shape, ViewPairs[views].Src);
        var want = Output(shape, DType.F32, ViewPairs[views].Dst);
        Cpu.Unary(op, want, src, alpha);
        var dst = IlgpuDevice.Mirror(Output(shape, DType.F32, ViewPairs[views].Dst));
        IlgpuDevice.Backend.Unary(op, dst, IlgpuDevice.Mirror(src), alpha);
        var got = IlgpuDevice.Back(dst);
        AssertClose($"unary {op}", Read(want), Read(got));
        AssertGapsUntouched(got, $"unary {op}");
    }

    [Theory]
    [InlineData(UnaryOp.Pow, 3f)]
    [InlineData(UnaryOp.Pow, -2f)]
    [InlineData(UnaryOp.Pow, 0.5f)]
    [InlineData(UnaryOp.Silu, 0f)]
    public void UnaryInPlaceWithEdgeValues(UnaryOp op, float alpha)
    {
        using var scope = new DisposeScope();
        // Negative bases (integer powers are real, 0.5 gives NaN), zero, NaN and infinities.
        double[] x = [-2.5, -1, 0, 0.75, 3, double.NaN, double.PositiveInfinity, double.NegativeInfinity, -0.3, 7];
        var host = Place(x, [2, 5], View.Transposed);
        var want = IlgpuDevice.Clone(host);
        Cpu.Unary(op, want, want, alpha);
        var t = IlgpuDevice.Mirror(host);
        IlgpuDevice.Backend.Unary(op, t, t, alpha);
        AssertClose($"unary {op} {alpha} in place", Read(want), Read(IlgpuDevice.Back(t)));
    }

    [Theory]
    [MemberData(nameof(BackendOpsElementwiseTests.BinaryOps), MemberType = typeof(BackendOpsElementwiseTests))]
    public void BinaryBroadcastsLikeTheCpu(BinaryOp op)
    {
        using var scope = new DisposeScope();
        // a [3, 1, 5] strided, b [4, 1] right-aligned to dst [3, 4, 5] (transposed in memory); then expanded views.
        var rng = new Random(30 + (int)op);
        var a = Place(Uniform(rng, 15, -3, 3), [3, 1, 5], View.Stepped);
        var b = Place(Uniform(rng, 4, -3, 3), [4, 1], View.Padded);
        Check(op, [3, 4, 5], View.Transposed, a, b);
        var row = Uniform(rng, 5, -3, 3);
        var col = Uniform(rng, 3, 0.5, 2);
        Check(op, [3, 5], View.Padded, Expanded(row, [1, 5], [3, 5]), Expanded(col, [3, 1], [3, 5]));
    }

    [Fact]
    public void BinaryInPlaceAndWithNaN()
    {
        using var scope = new DisposeScope();
        double[] a = [1, double.NaN, -2, 3, double.NaN, 0];
        double[] b = [double.NaN, 2, -1, 3, double.NaN, -0.5];
        foreach (var op in new[] { BinaryOp.Maximum, BinaryOp.Minimum, BinaryOp.Add })
        {
            var ha = Place(a, [2, 3]);
            var want = IlgpuDevice.Clone(ha);
            Cpu.Binary(op, want, want, Place(b, [2, 3]));
            var da = IlgpuDevice.Mirror(ha);
            IlgpuDevice.Backend.Binary(op, da, da, IlgpuDevice.Mirror(Place(b, [2, 3])));
            AssertClose($"binary {op} in place", Read(want), Read(IlgpuDevice.Back(da)));
        }
    }

    [Fact]
    public void RankZeroAndEmptyTensors()
    {
        using var scope = new DisposeScope();
        var gpu = IlgpuDevice.Backend;
        var dst = IlgpuDevice.Mirror(Output([]));
        gpu.Binary(BinaryOp.Sub, dst, IlgpuDevice.Mirror(Place([2.5], [])), IlgpuDevice.Mirror(Place([0.75], [])));
        gpu.Unary(UnaryOp.Neg, dst, dst);
        AssertExact("rank-0 sub, then neg in place", [-1.75], Read(IlgpuDevice.Back(dst)));
        var empty = IlgpuDevice.Mirror(Tensor.Empty([3, 0]));
        gpu.Unary(UnaryOp.Exp, empty, empty);
        gpu.Binary(BinaryOp.Add, empty, empty, IlgpuDevice.Mirror(Place([1], [1])));
    }

    [Fact]
    public void BadInputIsRefusedByName()
    {
        using var scope = new DisposeScope();
        var gpu = IlgpuDevice.Backend;
        Tensor On(int[] shape, DType dtype = DType.F32) => IlgpuDevice.Mirror(Tensor.Zeros(shape, dtype));
        AssertThrows(() => gpu.Unary(UnaryOp.Exp, On([4]), On([4], DType.I32)), "unary Exp", "int32");
        AssertThrows(() => gpu.Unary(UnaryOp.Sqrt, On([4, 3]), On([3, 4])), "unary Sqrt", "[4, 3]", "[3, 4]");
        AssertThrows(() => gpu.Unary(UnaryOp.Neg, On([4]), Tensor.Zeros([4])), "unary Neg", "every tensor must be on");
        AssertThrows(() => gpu.Binary(BinaryOp.Add, On([4, 5]), On([4, 5]), On([3])), "binary Add", "[3]", "[4, 5]");
        AssertThrows(() => gpu.Binary(BinaryOp.Mul, On([4, 5]), On([4, 5], DType.BF16), On([4, 5])), "binary Mul", "bfloat16");
        var row = On([1, 5]);
        AssertThrows(() => gpu.Binary(BinaryOp.Add, row.Restride(row.Layout.Expand([4, 5])), On([4, 5]), On([4, 5])), "binary Add", "broadcast");
        AssertThrows(() => gpu.Unary(UnaryOp.Neg, On([1, 1, 1, 1, 1, 1, 2]), On([1, 1, 1, 1, 1, 1, 2])), "unary Neg", "at most 6 dims");
    }

    private static void Check(BinaryOp op, int[] shape, View dstView, Tensor a, Tensor b)
    {
        var want = Output(shape, DType.F32, dstView);
        Cpu.Binary(op, want, a, b);
        var dst = IlgpuDevice.Mirror(Output(shape, DType.F32, dstView));
        IlgpuDevice.Backend.Binary(op, dst, IlgpuDevice.Mirror(a), IlgpuDevice.Mirror(b));
        var got = IlgpuDevice.Back(dst);
        AssertClose($"binary {op} {Shapes.Format(shape)}", Read(want), Read(got));
        AssertGapsUntouched(got, $"binary {op}");
    }
}
