using RawLongLoRA.Model;
using RawLongLoRA.Profiling;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>A model's forward and backward in the profile: module scopes under the Hugging Face names, checkpointed layers recomputed.</summary>
[Collection(SerialCollection.Name)]
public class ProfiledModelTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OpsSitInTheirModulesForwardAndBackward(bool checkpointing)
    {
        using var model = CausalLM.Load(CausalLMTests.Dir("llama-gqa-tiny"));
        model.AddAdapter("default", new LoraConfig { R = 4, ModulesToSave = LoraConfig.EmbeddingAndNorms }, seed: 1);
        model.GradientCheckpointing = checkpointing;
        model.Train();
        Assert.Equal("model.layers.1.self_attn.q_proj", model.Layers[1].SelfAttn.QProj.FullName);
        Assert.Equal("CausalLM", model.FullName);

        ProfileSession session;
        using (var scope = new DisposeScope())
        using (session = Profiler.Start())
            model.Forward(Tensor.FromArray(new long[] { 1, 17, 250, 3, 99, 42, 7, 123 }, [1, 8])).Square().Mean().Backward();
        var events = session.Events;
        ProfileEvent Parent(ProfileEvent e) => events[e.Parent];

        var qProj = events.Where(e => e.Kind == ProfileKind.Module && e.Name == "model.layers.1.self_attn.q_proj").ToList();
        Assert.Equal(checkpointing ? [ProfilePhase.Forward, ProfilePhase.Recompute, ProfilePhase.Backward] : [ProfilePhase.Forward, ProfilePhase.Backward],
            qProj.Select(e => e.Phase));
        Assert.Equal("model.layers.1.self_attn", Parent(qProj[0]).Name);
        Assert.Equal("model.layers.1", Parent(Parent(qProj[0])).Name);
        // The frozen projection and the adapter's two products are one fused op inside q_proj.
        Assert.Equal(1, events.Count(e => e.Name == "lora_linear" && e.Parent == qProj[0].Index));
        Assert.Contains(events, e => e.Name == "lora_linear.backward" && e.Module == "model.layers.1.self_attn.q_proj" && e.Parent == qProj[^1].Index);
        Assert.Contains(events, e => e.Name == "attention.backward" && e.Module == "model.layers.0.self_attn");
        Assert.Contains(events, e => e.Name == "embedding.backward" && e.Module == "model.embed_tokens");
        Assert.Equal(checkpointing ? 2 : 0, events.Count(e => e.Name == Profiler.RecomputeScope));

        var summary = session.Summary();
        var modules = summary.Modules.ToDictionary(m => m.Name);
        Assert.Equal(2, modules["model.layers.*.mlp.down_proj"].Calls);
        Assert.True(modules["model.layers.*.mlp"].BackwardNs > 0);
        Assert.Equal(checkpointing, modules["model.layers.*.mlp"].RecomputeNs > 0);
        Assert.Equal(checkpointing, summary.Rows.Any(r => r.Name == "linear [recompute]"));
        Assert.InRange(summary.SelfTotalNs, 0.95 * summary.WallNs, 1.05 * summary.WallNs);
    }
}
