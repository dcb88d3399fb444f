using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>silu(gate) · up, fused.</summary>
public class SwiGluGradTests
{
    [Fact]
    public void Rows() => GradCheck.Assert(x => x[0].SwiGlu(x[1]), [Input.Randn(1, 3, 6), Input.Randn(2, 3, 6)]);

    [Fact]
    public void ThreeDWideGate() => GradCheck.Assert(x => (x[0] * 3f).SwiGlu(x[1]), [Input.Randn(3, 2, 3, 4), Input.Randn(4, 2, 3, 4)]);

    [Fact]
    public void MatchesSiluTimesUp()
    {
        var g = Input.Randn(5, 4, 5);
        var u = Input.Randn(6, 4, 5);
        Approx.Close((g.Silu() * u).ToFloatArray(), g.SwiGlu(u), 1e-6);
    }

    [Fact]
    public void FrozenUp()
    {
        using var up = Tensor.Randn([3, 5], new Generator(7));
        GradCheck.Assert(x => x[0].SwiGlu(x[1]), [Input.Randn(8, 3, 5), up]);
        Assert.Null(up.Grad);
    }

    [Fact]
    public void FrozenGate()
    {
        using var gate = Tensor.Randn([3, 5], new Generator(9));
        GradCheck.Assert(x => x[0].SwiGlu(x[1]), [gate, Input.Randn(10, 3, 5)]);
        Assert.Null(gate.Grad);
    }

    [Fact]
    public void NarrowedHalvesOfOneProjection()
        // A fused gate_up projection [.., 2I] split into its two halves: both narrow views of one leaf.
        => GradCheck.Assert(x => x[0].Narrow(-1, 0, 4).SwiGlu(x[0].Narrow(-1, 4, 4)), [Input.Randn(11, 3, 8)]);

    [Fact]
    public void TransposedStridedAndExpandedOperands()
        => GradCheck.Assert(x => x[0].Transpose(0, 1).SwiGlu(Input.Strided(x[1])) + x[2].Expand(4, 3).SwiGlu(x[1]),
            [Input.Randn(12, 3, 4), Input.Randn(13, 4, 3), Input.Randn(14, 1, 3)]);
}
