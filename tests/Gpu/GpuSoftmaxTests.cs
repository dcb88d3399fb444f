using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>Softmax and its backward on the ILGPU backend (one warp per row) against the CPU backend.</summary>
public sealed class GpuSoftmaxTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 5)]
    [InlineData(9, 13)]
    [InlineData(2, 37)]
    public void SoftmaxAndBackwardMatchTheCpu(int n, int d)
    {
        using var scope = new DisposeScope();
        var rng = new Random(n * 100 + d);
        var x = Uniform(rng, n * d, -6, 6);
        x[0] = 80; // a large logit: the max must be subtracted
        var y = GpuOnBoth.Compare("softmax", (b, t) => b.Softmax(t[0], t[1]), 1e-5, Output([n, d]), Place(x, [n, d]))[0];
        var dy = Place(Uniform(rng, n * d, -1, 1), [n, d]);
        GpuOnBoth.Compare("softmax_backward", (b, t) => b.SoftmaxBackward(t[0], t[1], t[2]), 1e-5, Output([n, d]), Place(Read(y), [n, d]), dy);
    }

    [Fact]
    public void SoftmaxInPlaceMatchesTheCpu()
        => GpuOnBoth.Compare("softmax in place", (b, t) => b.Softmax(t[0], t[0]), 1e-5, Place(Uniform(new Random(3), 4 * 7, -3, 3), [4, 7]));

    [Fact]
    public void BadInputIsRefusedNamingTheOp()
    {
        using var scope = new DisposeScope();
        var x = Uniform(new Random(1), 12, -1, 1);
        GpuOnBoth.Refuses((b, t) => b.Softmax(t[0], t[1]), [Output([3, 4]), Place(x, [3, 4], View.Transposed)], "softmax", "input must be contiguous");
        GpuOnBoth.Refuses((b, t) => b.Softmax(t[0], t[1]), [Output([3, 4], DType.BF16), Place(x, [3, 4])], "softmax", "output must be float32", "bfloat16");
        GpuOnBoth.Refuses((b, t) => b.SoftmaxBackward(t[0], t[1], t[2]), [Output([3, 4]), Place(x, [3, 4]), Place(x, [4, 3])], "softmax_backward", "shapes must match", "[4, 3]");
        AssertThrows(() => IlgpuDevice.Backend.Softmax(IlgpuDevice.Mirror(Output([3, 4])), Place(x, [3, 4])), "softmax", "every tensor must be on");
    }
}
