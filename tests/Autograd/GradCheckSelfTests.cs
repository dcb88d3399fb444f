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
}
