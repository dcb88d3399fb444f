namespace RawLongLoRA.Model;

/// <summary>y = x Wᵀ + b with W stored [out, in] under "&lt;name&gt;.weight" (and "&lt;name&gt;.bias").</summary>
public sealed class Linear : Module
{
    public Linear(IParameterSource source, string key, int inFeatures, int outFeatures, bool bias)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = Parameter("weight", source.Get(key + ".weight", [outFeatures, inFeatures], ParameterKind.Matrix));
        if (bias)
            Bias = Parameter("bias", source.Get(key + ".bias", [outFeatures], ParameterKind.Bias));
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Tensor Weight { get; }
    public Tensor? Bias { get; }

    public Tensor Forward(Tensor x) => x.Linear(Weight, Bias);
}

/// <summary>Token embedding table [vocab, dim].</summary>
public sealed class Embedding : Module
{
    public Embedding(IParameterSource source, string key, int vocab, int dim)
        => Weight = Parameter("weight", source.Get(key + ".weight", [vocab, dim], ParameterKind.Matrix));

    public Tensor Weight { get; }

    public Tensor Forward(Tensor ids) => Weight.Embedding(ids);
}

/// <summary>RMSNorm with a learned scale, over the last dim.</summary>
public sealed class RmsNorm : Module
{
    private readonly float _eps;

    public RmsNorm(IParameterSource source, string key, int dim, double eps)
    {
        _eps = (float)eps;
        Weight = Parameter("weight", source.Get(key + ".weight", [dim], ParameterKind.Norm));
    }

    public Tensor Weight { get; }

    public Tensor Forward(Tensor x) => x.RmsNorm(Weight, _eps);
}
