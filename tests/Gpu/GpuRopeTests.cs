using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>RoPE (rotate-half, forward and inverse, in place) on the ILGPU backend against the CPU backend.</summary>
public sealed class GpuRopeTests
{
    [Theory]
    [InlineData(1, 1, 2, DType.I64, false)]
    [InlineData(5, 3, 6, DType.I32, false)]
    [InlineData(3, 2, 26, DType.I64, true)]
    public void RopeMatchesTheCpu(int n, int h, int d, DType positionType, bool inverse)
    {
        using var scope = new DisposeScope();
        var rng = new Random(n * h * d);
        int p = n + 4;
        var positions = Ids(Enumerable.Range(0, n).Select(i => (long)rng.Next(p)).ToArray(), positionType);
        var cos = Place(Uniform(rng, p * d / 2, -1, 1), [p, d / 2]);
        var sin = Place(Uniform(rng, p * d / 2, -1, 1), [p, d / 2]);
        var x = Place(Uniform(rng, n * h * d, -2, 2), [n, h, d]);
        GpuOnBoth.Compare("rope", (b, t) => b.Rope(t[0], t[1], t[2], t[3], t[4], inverse), 1e-6, Output([n, h, d]), x, cos, sin, positions);
        GpuOnBoth.Compare("rope in place", (b, t) => b.Rope(t[0], t[0], t[1], t[2], t[3], inverse), 1e-6, x, cos, sin, positions);
    }

    [Fact]
    public void BadInputIsRefusedNamingTheOp()
    {
        using var scope = new DisposeScope();
        var x = Place(Uniform(new Random(1), 2 * 1 * 4, -1, 1), [2, 1, 4]);
        var table = Place(Uniform(new Random(2), 3 * 2, -1, 1), [3, 2]);
        GpuOnBoth.Refuses((b, t) => b.Rope(t[0], t[1], t[2], t[3], t[4], false), [Output([2, 1, 4]), x, table, table, Ids([0, 1, 2], DType.I32)], "rope", "positions must have shape [2]");
        GpuOnBoth.Refuses((b, t) => b.Rope(t[0], t[1], t[2], t[3], t[4], false), [Output([2, 1, 4]), x, table, table, Place([0, 1], [2])], "rope", "positions must be int32 or int64");
    }
}
