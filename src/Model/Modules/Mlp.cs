namespace RawLongLoRA.Model;

/// <summary>The SwiGLU MLP of Llama and Qwen: down(silu(gate(x)) · up(x)).</summary>
public sealed class Mlp : Module
{
    /// <summary>
    /// The MLP <paramref name="key"/> ("model.layers.0.mlp") of <paramref name="hidden"/> →
    /// <paramref name="intermediate"/> → hidden, from <paramref name="source"/>.
    /// </summary>
    public Mlp(IParameterSource source, string key, int hidden, int intermediate)
    {
        GateProj = Child("gate_proj", new Linear(source, key + ".gate_proj", hidden, intermediate, bias: false));
        UpProj = Child("up_proj", new Linear(source, key + ".up_proj", hidden, intermediate, bias: false));
        DownProj = Child("down_proj", new Linear(source, key + ".down_proj", intermediate, hidden, bias: false));
    }

    /// <summary>gate_proj [intermediate, hidden]: its output goes through SiLU.</summary>
    public Linear GateProj { get; }
    /// <summary>up_proj [intermediate, hidden].</summary>
    public Linear UpProj { get; }
    /// <summary>down_proj [hidden, intermediate].</summary>
    public Linear DownProj { get; }

    // Intermediates are not disposed here: backward needs them. The caller's DisposeScope frees them.
    /// <summary>x [..., hidden] → [..., hidden].</summary>
    public Tensor Forward(Tensor x)
    {
        using var profile = Profiled();
        return DownProj.Forward(GateProj.Forward(x).SwiGlu(UpProj.Forward(x)));
    }
}
