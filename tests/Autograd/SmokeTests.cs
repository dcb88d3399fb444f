using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

public class SmokeTests
{
    [Fact]
    public void MatMulGradients()
    {
        var g = new Generator(1);
        var a = Tensor.Randn([3, 4], g, requiresGrad: true);
        var b = Tensor.Randn([4, 5], g, requiresGrad: true);
        GradCheck.Assert(x => x[0].MatMul(x[1]), [a, b]);
    }

    [Fact]
    public void RmsNormGradients()
    {
        var g = new Generator(2);
        var x = Tensor.Randn([3, 8], g, requiresGrad: true);
        var w = Tensor.Randn([8], g, requiresGrad: true);
        GradCheck.Assert(t => t[0].RmsNorm(t[1], 1e-5f), [x, w]);
    }
}
