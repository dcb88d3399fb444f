using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>SwiGLU and its backward on the ILGPU backend against the CPU backend.</summary>
public sealed class GpuSwiGluTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 13)]
    [InlineData(2, 37)]
    public void SwiGluAndBackwardMatchTheCpu(int n, int d)
    {
        using var scope = new DisposeScope();
        var rng = new Random(n * 100 + d);
        var gate = Place(Uniform(rng, n * d, -8, 8), [n, d]);
        var up = Place(Uniform(rng, n * d, -2, 2), [n, d]);
        var dy = Place(Uniform(rng, n * d, -1, 1), [n, d]);
        GpuOnBoth.Compare("swiglu", (b, t) => b.SwiGlu(t[0], t[1], t[2]), 1e-5, Output([n, d]), gate, up);
        GpuOnBoth.Compare("swiglu_backward", (b, t) => b.SwiGluBackward(t[0], t[1], t[2], t[3], t[4]), 1e-5, Output([n, d]), Output([n, d]), dy, gate, up);
        GpuOnBoth.Compare("swiglu_backward over dy", (b, t) => b.SwiGluBackward(t[0], t[1], t[0], t[2], t[3]), 1e-5, dy, Output([n, d]), gate, up);
    }

    [Fact]
    public void BadInputIsRefusedNamingTheOp()
    {
        using var scope = new DisposeScope();
        var g = Place(Uniform(new Random(1), 12, -1, 1), [3, 4]);
        GpuOnBoth.Refuses((b, t) => b.SwiGlu(t[0], t[1], t[2]), [Output([3, 4]), g, Place(Read(g), [3, 4], View.Padded)], "swiglu", "operand must be contiguous");
        GpuOnBoth.Refuses((b, t) => b.SwiGluBackward(t[0], t[1], t[2], t[3], t[4]), [Output([3, 4]), Output([4, 3]), g, g, g], "swiglu_backward", "shapes must match");
    }
}
