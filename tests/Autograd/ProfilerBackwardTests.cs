using RawLongLoRA.Profiling;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Backward rules in the profile: named "&lt;op&gt;.backward", inside the module that made the forward op; recompute marked.</summary>
[Collection(SerialCollection.Name)]
public class ProfilerBackwardTests
{
    private static ProfileEvent Parent(ProfileSession s, ProfileEvent e) => s.Events[e.Parent];

    [Fact]
    public void EachRuleIsAttributedToTheModuleOfItsForwardOp()
    {
        using var scope = new DisposeScope();
        var w1 = Tensor.Randn([16, 8], requiresGrad: true);
        var w2 = Tensor.Randn([8, 16], requiresGrad: true);
        var x = Tensor.Randn([3, 8]);
        ProfileSession session;
        using (session = Profiler.Start())
        {
            Tensor h, y;
            using (Profiler.Module("block"))
            {
                using (Profiler.Module("block.up"))
                    h = x.Linear(w1).Silu();
                using (Profiler.Module("block.down"))
                    y = h.Linear(w2);
            }
            y.Sum().Backward();
        }
        var rules = session.Events.Where(e => e.Kind == ProfileKind.Backward).ToList();
        Assert.Equal(["sum.backward", "linear.backward", "silu.backward", "linear.backward"], rules.Select(e => e.Name));
        Assert.All(rules, e => Assert.Equal(ProfilePhase.Backward, e.Phase));
        var (down, up) = (rules[1], rules[3]);
        Assert.Equal("block.down", down.Module);
        Assert.Equal("block.up", up.Module);
        Assert.Equal("[3, 16], [8, 16]", down.Shapes);
        // Reopened around the rule: block.down inside block, inside the backward pass.
        var reopened = Parent(session, down);
        Assert.Equal((ProfileKind.Module, ProfilePhase.Backward, "block.down"), (reopened.Kind, reopened.Phase, reopened.Name));
        Assert.Equal("block", Parent(session, reopened).Name);
        Assert.Equal("autograd.backward", Parent(session, Parent(session, reopened)).Name);
        // silu and up's linear share block.up: one reopened scope holds both rules.
        Assert.Equal(up.Parent, rules[2].Parent);
        // The rule's own work is nested inside it: the dX product of the frozen-weight linear.
        Assert.Contains(session.Events, e => e.Name == "cpu::gemm" && e.Parent >= 0 && Parent(session, e).Name == "matmul" && Parent(session, Parent(session, e)) == down);
        Assert.Equal(2, session.Summary().Row("linear.backward")!.Calls);
    }

    [Fact]
    public void ACheckpointsRecomputeIsMarkedAsSuch()
    {
        using var scope = new DisposeScope();
        var w = Tensor.Randn([8, 8], requiresGrad: true);
        var x = Tensor.Randn([4, 8], requiresGrad: true);
        ProfileSession session;
        using (session = Profiler.Start())
        {
            var y = Checkpoint.Run(h =>
            {
                using (Profiler.Module("layer"))
                    return h[0].Linear(w).Tanh();
            }, x);
            y.Sum().Backward();
        }
        var recompute = Assert.Single(session.Events, e => e.Name == Profiler.RecomputeScope);
        Assert.Equal("checkpoint.backward", Parent(session, recompute).Name);
        var linears = session.Events.Where(e => e.Name == "linear").ToList();
        Assert.Equal([ProfilePhase.Forward, ProfilePhase.Recompute], linears.Select(e => e.Phase));
        Assert.Equal("layer", Parent(session, linears[1]).Name);
        Assert.Equal(ProfilePhase.Recompute, Parent(session, linears[1]).Phase);
        var summary = session.Summary();
        Assert.Equal(1, summary.Row("linear")!.Calls);
        Assert.Equal(1, summary.Row("linear [recompute]")!.Calls);
        Assert.Equal(1, summary.Row("linear.backward")!.Calls);
        Assert.Equal("layer", session.Events.Single(e => e.Name == "linear.backward").Module);
    }
}
