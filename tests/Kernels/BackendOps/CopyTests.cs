using RawLongLoRA;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>Copy (strided, with dtype conversion) and Fill against the reference's rounding, over every dtype pair and layout.</summary>
public sealed class BackendOpsCopyTests
{
    private static readonly DType[] AllTypes = [DType.F32, DType.BF16, DType.F16, DType.I32, DType.I64, DType.U8];

    private static readonly (View Src, View Dst)[] ViewPairs =
    [
        (View.Contiguous, View.Contiguous),
        (View.Transposed, View.Padded),
        (View.Reversed, View.Stepped),
        (View.Stepped, View.Transposed),
    ];

    public static TheoryData<DType, DType, View, View> CastCases()
    {
        var data = new TheoryData<DType, DType, View, View>();
        foreach (var s in AllTypes)
            foreach (var d in AllTypes)
                foreach (var (sv, dv) in ViewPairs)
                    data.Add(s, d, sv, dv);
        return data;
    }

    [Theory]
    [MemberData(nameof(CastCases))]
    public void CopyConvertsLikeTheReference(DType src, DType dst, View srcView, View dstView)
    {
        using var scope = new DisposeScope();
        int[] shape = [3, 7, 33];
        var values = SourceValues(src, dst, BackendReference.Numel(shape), new Random(17 * (int)src + (int)dst));
        var expected = Array.ConvertAll(values, v => BackendReference.Cast(v, dst));
        var s = Place(values, shape, src, srcView);
        var d = Output(shape, dst, dstView);
        Cpu.Copy(d, s);
        AssertExact($"copy {src} -> {dst}", expected, Read(d));
        AssertGapsUntouched(d, "copy output");
    }

    /// <summary>Values exactly representable in src, inside dst's range when dst is an integer type; float pairs include the rounding edge cases.</summary>
    private static double[] SourceValues(DType src, DType dst, long n, Random rng)
    {
        var x = new double[n];
        double lo = dst == DType.U8 || src == DType.U8 ? 0 : -1000, hi = dst == DType.U8 || src == DType.U8 ? 255 : 1000;
        for (long i = 0; i < n; i++)
            x[i] = src.IsFloat() && dst.IsFloat() ? lo + (hi - lo) * rng.NextDouble() * Math.Pow(2, rng.Next(-30, 1)) : lo + (hi - lo) * rng.NextDouble();
        double[] specials = src.IsFloat() && dst.IsFloat() ? FloatEdgeCases
            : src.IsFloat() ? [0, -0.75, 0.75, 254.5, 3.999]
            : dst.IsFloat() ? IntegerEdgeCases(src)
            : dst == DType.U8 || src == DType.U8 ? [0, 1, 255]
            : [16777217, -16777217, 2147483647, -2147483648, 123456789]; // integers past float32's 2^24 stay exact
        if (src.IsFloat() && dst == DType.I64 && src != DType.F16)
            specials = [.. specials, 1e15 + 0.5, -(1L << 40) - 0.25]; // truncation past 2^24
        for (int i = 0; i < specials.Length && i < n; i++)
            x[i * 5 % n] = specials[i];
        return Array.ConvertAll(x, v => BackendReference.Cast(v, src));
    }

    /// <summary>Ties, just-above-ties, overflow thresholds, subnormals, signed zero, infinities and NaN of the 16-bit formats.</summary>
    private static readonly double[] FloatEdgeCases =
    [
        0.0, -0.0, 1, -1, double.NaN, double.PositiveInfinity, double.NegativeInfinity,
        1 + Math.Pow(2, -8), 1 + 3 * Math.Pow(2, -8), -(1 + Math.Pow(2, -8)), 1 + Math.Pow(2, -8) + Math.Pow(2, -20),
        1 + Math.Pow(2, -11), 1 + 3 * Math.Pow(2, -11), 1 + Math.Pow(2, -11) + Math.Pow(2, -22),
        65504, 65519, 65520, -65520, 3.3895313892515355e38, float.MaxValue, -float.MaxValue,
        Math.Pow(2, -24), Math.Pow(2, -25), 1.5 * Math.Pow(2, -25), Math.Pow(2, -130), float.Epsilon, 6.1e-5, 1e-40,
    ];

    /// <summary>Integers that a float16/bfloat16 cast rounds: ties and ties-plus-one above 2^24, where rounding via float32 first would round twice.</summary>
    private static double[] IntegerEdgeCases(DType src) => src switch
    {
        DType.U8 => [0, 1, 255, 129, 131],
        _ => [0, -1, 2049, 2051, 4097, 16777217, 16842753, -16842753, 16908289, 33619969, 2147483647, -2147483648, 257, 259],
    };

    [Fact]
    public void CopyBetweenInt64TensorsIsExactForLargeValues()
    {
        using var scope = new DisposeScope();
        long[] data = [long.MaxValue, long.MinValue, (1L << 53) + 1, -(1L << 60) - 7, 9007199254740993, 42];
        using var src = Tensor.FromArray(data, [2, 3]);
        var t = src.Restride(src.Layout.Transpose(0, 1));
        var dst = Tensor.Empty([3, 2], DType.I64);
        Cpu.Copy(dst, t);
        Assert.Equal(new[] { data[0], data[3], data[1], data[4], data[2], data[5] }, ReadLongs(dst));
        var back = Output([2, 3], DType.I64, View.Padded);
        Cpu.Copy(back, src);
        Assert.Equal(data, ReadLongs(back));
    }

    [Theory]
    [InlineData(DType.F32, View.Transposed, View.Contiguous)]
    [InlineData(DType.BF16, View.Contiguous, View.Transposed)]
    [InlineData(DType.F16, View.Padded, View.Reversed)]
    public void LargeCopyRunsTheParallelPath(DType dst, View srcView, View dstView)
    {
        using var scope = new DisposeScope();
        int[] shape = [301, 257];
        var x = Uniform(new Random(3), BackendReference.Numel(shape), -100, 100);
        var s = Place(x, shape, DType.F32, srcView);
        var d = Output(shape, dst, dstView);
        Cpu.Copy(d, s);
        AssertExact($"copy f32 -> {dst}", Round(x, dst), Read(d));
        AssertGapsUntouched(d, "copy output");
    }

    [Fact]
    public void CopyFromABroadcastViewRepeatsTheRow()
    {
        using var scope = new DisposeScope();
        var row = Uniform(new Random(5), 33, -1, 1);
        var s = Expanded(row, [1, 33], [7, 33]);
        var d = Output([7, 33], DType.BF16, View.Transposed);
        Cpu.Copy(d, s);
        var expected = Enumerable.Range(0, 7).SelectMany(_ => Round(row, DType.BF16)).ToArray();
        AssertExact("copy from expanded", expected, Read(d));
    }

    [Fact]
    public void CopyOfEmptyAndScalarTensors()
    {
        using var scope = new DisposeScope();
        var s = Place([2.5], [], DType.F32);
        var d = Output([], DType.F16);
        Cpu.Copy(d, s);
        AssertExact("scalar", [2.5], Read(d));
        Cpu.Copy(Tensor.Empty([0, 5], DType.BF16), Tensor.Empty([0, 5]));
    }

    [Fact]
    public void CopyShapeMismatchNamesTheOpAndBothShapes()
    {
        using var scope = new DisposeScope();
        AssertThrows(() => Cpu.Copy(Tensor.Empty([2, 3]), Tensor.Empty([3, 2], DType.BF16)), "copy", "[2, 3]", "[3, 2]", "bfloat16");
    }

    public static TheoryData<DType, View, double> FillCases()
    {
        var data = new TheoryData<DType, View, double>();
        foreach (var t in AllTypes)
            foreach (var v in new[] { View.Contiguous, View.Transposed, View.Padded, View.Stepped })
                foreach (double value in t.IsFloat()
                    ? new[] { 0.1, -2.5, 1 + Math.Pow(2, -8) + Math.Pow(2, -30), 1 + Math.Pow(2, -11) + Math.Pow(2, -30), 70000, double.NegativeInfinity }
                    : new[] { 0.0, 7, 200.9 })
                    data.Add(t, v, value);
        return data;
    }

    [Theory]
    [MemberData(nameof(FillCases))]
    public void FillWritesTheRoundedValueIntoEveryElementOfTheView(DType dtype, View view, double value)
    {
        using var scope = new DisposeScope();
        int[] shape = [5, 3, 33];
        var d = Output(shape, dtype, view);
        Cpu.Fill(d, value);
        var expected = new double[BackendReference.Numel(shape)];
        Array.Fill(expected, BackendReference.Cast(value, dtype));
        AssertExact($"fill {dtype} with {value:R}", expected, Read(d));
        AssertGapsUntouched(d, "fill");
    }

    [Fact]
    public void LargeFillOfAStridedView()
    {
        using var scope = new DisposeScope();
        var d = Output([400, 301], DType.F32, View.Transposed);
        Cpu.Fill(d, -3.25);
        Assert.All(Read(d), v => Assert.Equal(-3.25, v));
    }

    [Fact]
    public void TensorHelpersRoundTripThroughCopy()
    {
        using var scope = new DisposeScope();
        float[] data = [1.00390625f, 1.01171875f, -0.0f, 65520f, 3.14159265f];
        var bf = Tensor.FromArray(data, [5], DType.BF16);
        Assert.Equal(Array.ConvertAll(data, v => BackendReference.Bf16Bits(BackendReference.ToBf16(v))), bf.ToArray<ushort>());
        var h = Tensor.FromArray(data, [5], DType.F16);
        Assert.Equal(Array.ConvertAll(data, v => BackendReference.F16Bits(BackendReference.ToF16(v))), h.ToArray<ushort>());
        AssertExact("to float", Array.ConvertAll(data, v => BackendReference.ToF16(v)), Array.ConvertAll(h.ToFloatArray(), v => (double)v));
        var src = Place([1, 2, 3, 4, 5, 6], [2, 3], View.Transposed);
        var dst = Tensor.Empty([2, 3], DType.I32).CopyFrom(src);
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6 }, dst.ToArray<int>());
    }
}
