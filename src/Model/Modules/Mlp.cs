namespace RawLongLoRA.Model;

/// <summary>The SwiGLU MLP of Llama and Qwen: down(silu(gate(x)) · up(x)).</summary>
public sealed class Mlp : Module
{
    public Mlp(IParameterSource source, string key, int hidden, int intermediate)
    {
        GateProj = Child("gate_proj", new Linear(source, key + ".gate_proj", hidden, intermediate, bias: false));
        UpProj = Child("up_proj", new Linear(source, key + ".up_proj", hidden, intermediate, bias: false));
        DownProj = Child("down_proj", new Linear(source, key + ".down_proj", intermediate, hidden, bias: false));
    }

    public Linear GateProj { get; }
    public Linear UpProj { get; }
    public Linear DownProj { get; }

    // Intermediates are not disposed here: backward needs them. The caller's DisposeScope frees them.
    public Tensor Forward(Tensor x)
    {
        using var profile = Profiled();
        return DownProj.Forward(GateProj.Forward(x).SwiGlu(UpProj.Forward(x)));
    }
}
