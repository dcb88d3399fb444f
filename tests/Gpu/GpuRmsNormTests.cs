using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>RMSNorm and its backward (dx; dweight by the two-pass column sum) on the ILGPU backend against the CPU backend.</summary>
public sealed class GpuRmsNormTests
{
    [Theory]
    [InlineData(1, 1, DType.F32, View.Contiguous)]
    [InlineData(3, 5, DType.BF16, View.Contiguous)]
    [InlineData(9, 13, DType.F16, View.Stepped)]
    [InlineData(2, 37, DType.F32, View.Stepped)]
    [InlineData(70, 3, DType.BF16, View.Contiguous)] // more than one block of 64 rows: both passes of dweight
    public void RmsNormAndBackwardMatchTheCpu(int n, int d, DType weightType, View weightView)
    {
        using var scope = new DisposeScope();
        var rng = new Random(n * 100 + d);
        var x = Place(Uniform(rng, n * d, -2, 2), [n, d]);
        var w = Place(Round(Uniform(rng, d, 0.5, 1.5), weightType), [d], weightType, weightView);
        var outs = GpuOnBoth.Compare("rms_norm", (b, t) => b.RmsNorm(t[0], t[1], t[2], t[3], 1e-5f), 1e-5, Output([n, d]), Output([n]), x, w);
        var rstd = Place(Read(outs[1]), [n]);
        var dy = Place(Uniform(rng, n * d, -1, 1), [n, d]);
        GpuOnBoth.Compare("rms_norm_backward", (b, t) => b.RmsNormBackward(t[0], t[1], t[2], t[3], t[4], t[5]), 1e-5, Output([n, d]), Output([d]), dy, x, w, rstd);
        GpuOnBoth.Compare("rms_norm_backward without dweight", (b, t) => b.RmsNormBackward(t[0], null, t[1], t[2], t[3], t[4]), 1e-5, Output([n, d]), dy, x, w, rstd);
    }

    [Fact]
    public void BadInputIsRefusedNamingTheOp()
    {
        using var scope = new DisposeScope();
        var x = Place(Uniform(new Random(1), 12, -1, 1), [3, 4]);
        GpuOnBoth.Refuses((b, t) => b.RmsNorm(t[0], t[1], t[2], t[3], 1e-5f), [Output([3, 4]), Output([3]), x, Output([5])], "rms_norm", "weight must have shape [4]");
        GpuOnBoth.Refuses((b, t) => b.RmsNorm(t[0], t[1], t[2], t[3], 1e-5f), [Output([3, 4]), Output([3], DType.F32, View.Stepped), x, Output([4])], "rms_norm", "rstd must be contiguous with 3 elements");
        GpuOnBoth.Refuses((b, t) => b.RmsNormBackward(t[0], t[1], t[2], t[3], t[4], t[5]), [Output([3, 4]), Output([4], DType.BF16), x, x, Output([4]), Output([3])], "rms_norm_backward", "dweight must be float32");
    }
}
