using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The README's library example, verbatim in spirit: it must keep compiling and working.</summary>
public class ReadmeExampleTests
{
    [Fact]
    public void LibraryExampleRunsAndFillsTheGradient()
    {
        Tensor w;
        using (var scope = new DisposeScope())
        {
            w = Tensor.Randn([64, 32], requiresGrad: true).MoveToOuterScope();
            var x = Tensor.Randn([8, 16, 32]);
            var loss = x.Linear(w).RmsNorm(Tensor.Ones([64]), 1e-5f).Silu().Square().Mean();
            loss.Backward();
        }
        Assert.Equal([64, 32], w.Grad!.ShapeArray);
        Assert.Contains(w.Grad.ToFloatArray(), v => v != 0);
        Assert.All(w.Grad.ToFloatArray(), v => Assert.True(float.IsFinite(v)));
    }
}
