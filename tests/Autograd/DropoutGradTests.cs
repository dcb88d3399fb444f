using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Inverted dropout with a Philox generator: the gradient is the same mask times 1/(1 − p).</summary>
public class DropoutGradTests
{
    private const float P = 0.3f;

    [Fact]
    public void GradientIsMaskTimesScale()
    {
        var x = Input.Randn(1, 6, 7);
        var y = x.Dropout(P, generator: new Generator(42));
        using var g = Tensor.Randn([6, 7], new Generator(2));
        y.Backward(g);
        using var mask = Tensor.Bernoulli([6, 7], 1 - P, new Generator(42));
        var m = mask.ToFloatArray();
        var xv = x.ToFloatArray();
        var gv = g.ToFloatArray();
        var yv = y.ToFloatArray();
        var dx = x.Grad!.ToFloatArray();
        float scale = 1f / (1 - P);
        Assert.Contains(0f, m);
        Assert.Contains(1f, m);
        for (int i = 0; i < m.Length; i++)
        {
            Assert.Equal(m[i] * scale * xv[i], yv[i], 6);
            Assert.Equal(m[i] * scale * gv[i], dx[i], 6);
        }
    }

    [Fact]
    public void FiniteDifferenceWithTheGeneratorResetPerEvaluation()
        => GradCheck.Assert(x => x[0].Dropout(P, generator: new Generator(7)) * x[0], [Input.Randn(3, 5, 6)]);

    [Fact]
    public void SameSeedSameMaskNextDrawDiffers()
    {
        using var x = Tensor.Ones([64]);
        var gen = new Generator(9);
        var a = x.Dropout(0.5f, generator: gen).ToFloatArray();
        var b = x.Dropout(0.5f, generator: gen).ToFloatArray();
        var c = x.Dropout(0.5f, generator: new Generator(9)).ToFloatArray();
        Assert.Equal(a, c);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void KeepsAboutOneMinusP()
    {
        using var x = Tensor.Ones([20000]);
        var y = x.Dropout(P, generator: new Generator(10)).ToFloatArray();
        double kept = y.Count(v => v != 0) / (double)y.Length;
        Assert.InRange(kept, 1 - P - 0.02, 1 - P + 0.02);
        Assert.All(y, v => Assert.True(v == 0 || Math.Abs(v - 1 / (1 - P)) < 1e-6));
    }

    [Theory]
    [InlineData(0f, true)]
    [InlineData(0.5f, false)]
    public void OffIsIdentityWithGradient(float p, bool training)
    {
        var x = Input.Randn(11, 3, 4);
        var y = x.Dropout(p, training, new Generator(12));
        Assert.Equal(x.ToFloatArray(), y.ToFloatArray());
        GradCheck.Assert(t => t[0].Dropout(p, training, new Generator(12)), [x]);
    }

    [Fact]
    public void TransposedInput()
        => GradCheck.Assert(x => x[0].Transpose(0, 1).Dropout(P, generator: new Generator(13)), [Input.Randn(14, 4, 6)]);

    [Fact]
    public void StridedAndExpandedInputs()
        => GradCheck.Assert(x => Input.Strided(x[0]).Dropout(P, generator: new Generator(15)) + x[1].Expand(3, 4).Dropout(P, generator: new Generator(16)),
            [Input.Randn(17, 3, 4), Input.Randn(18, 1, 4)]);
}
