using RawLongLoRA;
using Xunit;
using Xunit.Sdk;

namespace RawLongLoRA.Tests;

/// <summary>The finite-difference checker itself: it must fail on a wrong gradient, or its passes mean nothing.</summary>
public class GradCheckSelfTests
{
    [Fact]
    public void CatchesAGradientThatIsHalfWhatItShouldBe()
        // d(x · detach(x))/dx by autograd is x; the true derivative is 2x.
        => Assert.Throws<TrueException>(() => GradCheck.Assert(x => x[0] * x[0].Detach(), [Input.Randn(1, 3, 4)]));

    [Fact]
    public void CatchesAMissingGradientThroughAView()
        => Assert.Throws<TrueException>(() => GradCheck.Assert(x => x[0].Transpose(0, 1).Detach() * x[1], [Input.Randn(2, 3, 2), Input.Randn(3, 2, 3)]));

    [Fact]
    public void CatchesAFivePercentError()
        // y = x² + 0.1·x·detach(x): the true derivative is 2.2x, autograd sees 2.1x.
        => Assert.Throws<TrueException>(() => GradCheck.Assert(x => x[0] * x[0] + x[0] * x[0].Detach() * 0.1f, [Input.Uniform(4, 1f, 2f, 8)]));

    [Fact]
    public void CatchesAFivePercentErrorInSmallGradients()
        // The same 5% error with every gradient a thousand times smaller (≈ 3e-3): an absolute tolerance
        // floored at 1 would let it through.
        => Assert.Throws<TrueException>(() => GradCheck.Assert(x => (x[0] * x[0] + x[0] * x[0].Detach() * 0.1f) * 1e-3f, [Input.Uniform(4, 1f, 2f, 8)]));
}

/// <summary>The normalised comparisons themselves: small values are held to the same relative error as large ones.</summary>
public class ApproxSelfTests
{
    private static readonly float[] Small = [1e-3f, -2e-3f, 5e-4f];

    [Fact]
    public void ApproxCatchesAOnePercentErrorInSmallValues()
    {
        Assert.Equal(0.01, Approx.NormalisedError(Array.ConvertAll(Small, v => v * 1.01f), Small), 1e-6);
        Assert.Throws<TrueException>(() => Approx.Close(Small, Array.ConvertAll(Small, v => v * 1.001f)));
    }

    [Fact]
    public void ApproxAndAssertCloseMatchAllZerosOnlyExactly()
    {
        Assert.Equal(0, Approx.NormalisedError([0f, 0f], [0f, 0f]));
        Assert.Throws<TrueException>(() => Approx.Close([0f, 0f], [0f, 1e-7f]));
        Assert.Throws<TrueException>(() => Ops.AssertClose("zeros", [0, 0], [0, 1e-7]));
        Ops.AssertClose("zeros beside terms of size 1", [0, 0], [0, 1e-7], scaleFloor: 1);
    }

    [Fact]
    public void AssertCloseCatchesAOnePercentErrorInSmallValues()
        => Assert.Throws<TrueException>(() => Ops.AssertClose("small", [1e-3, 2e-3], [1e-3, 2.02e-3]));
}
