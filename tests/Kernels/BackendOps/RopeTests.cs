using RawLongLoRA;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>Rotary embedding (rotate-half layout) and its inverse against the float64 reference.</summary>
public sealed class BackendOpsRopeTests
{
    /// <summary>cos/sin tables [p, d/2] of θ = pos · 10000^(−2i/d), rounded to float32.</summary>
    private static (double[] Cos, double[] Sin) Tables(int p, int d)
    {
        int half = d / 2;
        var cos = new double[p * half];
        var sin = new double[p * half];
        for (int pos = 0; pos < p; pos++)
            for (int i = 0; i < half; i++)
            {
                double theta = pos * Math.Pow(10000, -2.0 * i / d);
                cos[pos * half + i] = (float)Math.Cos(theta);
                sin[pos * half + i] = (float)Math.Sin(theta);
            }
        return (cos, sin);
    }

    [Theory]
    [InlineData(1, 1, 2, DType.I64)]
    [InlineData(7, 3, 32, DType.I32)]
    [InlineData(33, 2, 6, DType.I64)]
    [InlineData(200, 8, 64, DType.I32)]
    [InlineData(5, 3, 40, DType.I64)]
    [InlineData(3, 2, 256, DType.I32)]
    public void RopeAndInverseMatchReference(int n, int h, int d, DType posType)
    {
        using var scope = new DisposeScope();
        const int p = 50;
        var rng = new Random(n + d);
        var (cos, sin) = Tables(p, d);
        // Positions out of order and repeated, as packed sequences and KV caches give them.
        var positions = Enumerable.Range(0, n).Select(t => (long)((t * 7 + 3) % p)).ToArray();
        var x = Uniform(rng, (long)n * h * d, -2, 2);
        int[] shape = [n, h, d];
        var ct = Place(cos, [p, d / 2]);
        var st = Place(sin, [p, d / 2]);
        var pt = Ids(positions, posType);

        foreach (bool inverse in new[] { false, true })
        {
            var y = Output(shape);
            Cpu.Rope(y, Place(x, shape), ct, st, pt, inverse);
            AssertClose($"rope inverse={inverse}", BackendReference.Rope(x, n, h, d, cos, sin, positions, inverse), Read(y));
        }

        // In place (y aliases x), then the inverse brings x back.
        var t = Place(x, shape);
        Cpu.Rope(t, t, ct, st, pt, inverse: false);
        AssertClose("rope in place", BackendReference.Rope(x, n, h, d, cos, sin, positions, false), Read(t));
        Cpu.Rope(t, t, ct, st, pt, inverse: true);
        AssertClose("rope then inverse", x, Read(t));
    }

    [Theory]
    [InlineData(View.Transposed)]
    [InlineData(View.Stepped)]
    [InlineData(View.Padded)]
    public void NonContiguousOperandsAreRejectedNamingTheOp(View view)
    {
        using var scope = new DisposeScope();
        var (cos, sin) = Tables(8, 4);
        var ct = Place(cos, [8, 2]);
        var st = Place(sin, [8, 2]);
        var pos = Ids([0, 1, 2], DType.I64);
        var x = Uniform(new Random(1), 3 * 2 * 4, -1, 1);
        var plain = Place(x, [3, 2, 4]);
        AssertThrows(() => Cpu.Rope(Output([3, 2, 4]), Place(x, [3, 2, 4], view), ct, st, pos, false), "rope", "contiguous");
        AssertThrows(() => Cpu.Rope(Output([3, 2, 4], DType.F32, view), plain, ct, st, pos, false), "rope", "contiguous");
        AssertThrows(() => Cpu.Rope(Output([3, 2, 4]), plain, Place(cos, [8, 2], view), st, pos, false), "rope", "cos", "contiguous");
    }

    [Fact]
    public void RopeBadInputNamesTheOpShapesAndDTypes()
    {
        using var scope = new DisposeScope();
        var (cos, sin) = Tables(8, 4);
        var ct = Place(cos, [8, 2]);
        var st = Place(sin, [8, 2]);
        var x = Tensor.Zeros([3, 2, 4]);
        AssertThrows(() => Cpu.Rope(Tensor.Empty([3, 2, 4]), x, ct, st, Ids([0, 8, 1], DType.I64), false), "rope", "position 8", "8 positions");
        AssertThrows(() => Cpu.Rope(Tensor.Empty([3, 2, 4]), x, ct, st, Ids([0, -1, 1], DType.I32), false), "rope", "position -1");
        AssertThrows(() => Cpu.Rope(Tensor.Empty([3, 2, 4]), x, ct, st, Ids([0, 1], DType.I64), false), "rope", "positions", "[3]", "[2]");
        AssertThrows(() => Cpu.Rope(Tensor.Empty([3, 2, 4]), x, ct, st, Place([0, 1, 2], [3]), false), "rope", "positions", "float32");
        AssertThrows(() => Cpu.Rope(Tensor.Empty([3, 2, 3]), Tensor.Zeros([3, 2, 3]), ct, st, Ids([0, 1, 2], DType.I64), false), "rope", "even", "[3, 2, 3]");
        AssertThrows(() => Cpu.Rope(Tensor.Empty([3, 2, 6]), Tensor.Zeros([3, 2, 6]), ct, st, Ids([0, 1, 2], DType.I64), false), "rope", "cos", "[8, 2]");
        AssertThrows(() => Cpu.Rope(Tensor.Empty([6, 4]), Tensor.Zeros([6, 4]), ct, st, Ids([0, 1, 2], DType.I64), false), "rope", "rank 3", "[6, 4]");
        AssertThrows(() => Cpu.Rope(Tensor.Empty([3, 2, 4], DType.BF16), x, ct, st, Ids([0, 1, 2], DType.I64), false), "rope", "bfloat16");
    }
}
