using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Every op frees what it allocates: forward and backward inside a dispose scope, then the leaves'
/// gradients disposed, leave the process's live storage count where it was. Runs alone (the count is
/// process-wide).
/// </summary>
[Collection(SerialCollection.Name)]
public class OpMemoryTests
{
    public static TheoryData<string> CaseNames() => [.. TorchFixtureTests.Cases.Keys];

    private static long Leaked(Action body)
    {
        long before = Storage.LiveCount;
        body();
        return Storage.LiveCount - before;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ForwardAndBackwardFreeEverything(string name)
    {
        var c = TorchFixtureTests.Cases[name];
        var fx = TorchFixtureTests.Fx;
        foreach (bool strided in new[] { false, true })
        {
            long leaked = Leaked(() =>
            {
                Tensor[] leaves;
                using (new DisposeScope())
                {
                    leaves = [.. c.Inputs.Select(i => TorchFixtureTests.Leaf($"{name}.{i}").MoveToOuterScope())];
                    var constants = c.Constants.Select(i => fx.Load($"{name}.{i}")).ToArray();
                    var y = c.Run(strided ? [.. leaves.Select(Input.Strided)] : leaves, constants);
                    y.Backward(fx.Load($"{name}.grad_out"));
                }
                foreach (var leaf in leaves)
                {
                    Assert.NotNull(leaf.Grad);
                    leaf.Grad!.Dispose();
                    leaf.Dispose();
                }
            });
            Assert.True(leaked == 0, $"{name} ({(strided ? "strided" : "contiguous")} inputs): {leaked} storages left alive");
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ForwardWithoutGradFreesEverything(string name)
    {
        var c = TorchFixtureTests.Cases[name];
        var fx = TorchFixtureTests.Fx;
        long leaked = Leaked(() =>
        {
            using var scope = new DisposeScope();
            var inputs = c.Inputs.Select(i => Input.Strided(TorchFixtureTests.Leaf($"{name}.{i}"))).ToArray();
            var constants = c.Constants.Select(i => fx.Load($"{name}.{i}")).ToArray();
            using (Autograd.NoGrad())
                Assert.False(c.Run(inputs, constants).RequiresGrad);
        });
        Assert.Equal(0, leaked);
    }

    [Fact]
    public void DropoutFreesItsMask()
    {
        var x = Input.Randn(1, 4, 5);
        long leaked = Leaked(() =>
        {
            using (new DisposeScope())
                x.Dropout(0.5f, generator: new Generator(2)).Sum().Backward();
            x.Grad!.Dispose();
            x.Grad = null;
        });
        Assert.Equal(0, leaked);
    }
}
