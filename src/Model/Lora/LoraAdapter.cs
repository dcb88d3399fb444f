namespace RawLongLoRA.Model;

/// <summary>
/// One LoRA adapter of a <see cref="Linear"/>: A [r, in], B [out, r] and, for DoRA, a magnitude [out];
/// the tensors are parameters of the Linear (under PEFT's names lora_A.&lt;adapter&gt;.weight, ...).
/// Forward adds s·(dropout(x) Aᵀ) Bᵀ to the frozen x Wᵀ + b, as one op (<see cref="LoraLinearOp"/>). DoRA rescales each output row to its
/// magnitude m over ‖W + s·BA‖, a norm kept out of the gradient as PEFT does (DoRA paper §4.3).
/// </summary>
public sealed class LoraAdapter
{
    internal LoraAdapter(Tensor a, Tensor b, Tensor? magnitude, double scale, float dropout)
    {
        (A, B, Magnitude, Scale, Dropout) = (a, b, magnitude, (float)scale, dropout);
    }

    /// <summary>lora_A [r, in], float32: drawn at creation, trained.</summary>
    public Tensor A { get; }
    /// <summary>lora_B [out, r], float32: zero at creation, trained.</summary>
    public Tensor B { get; }

    /// <summary>DoRA's magnitude vector [out]; null for plain LoRA.</summary>
    public Tensor? Magnitude { get; }

    /// <summary>s, the factor of the low-rank update: alpha / r (alpha / √r with rsLoRA).</summary>
    public float Scale { get; }
    /// <summary>The dropout probability on the adapter's input while training.</summary>
    public float Dropout { get; }
    /// <summary>r, the rank of the update.</summary>
    public int Rank => A.Shape[0];

    /// <summary>
    /// PEFT's initialisation: A kaiming-uniform with a = √5 (bound 1/√in), B zero, so the adapter
    /// starts as the identity; DoRA's magnitude starts at ‖W‖ per row.
    /// </summary>
    internal static LoraAdapter Create(Tensor weight, LoraConfig config, Generator generator)
    {
        int outF = weight.Shape[0], inF = weight.Shape[1];
        float bound = 1f / MathF.Sqrt(inF);
        var a = Tensor.Uniform([config.R, inF], -bound, bound, generator, weight.Device, requiresGrad: true);
        var b = Tensor.Zeros([outF, config.R], DType.F32, weight.Device, requiresGrad: true);
        Tensor? m = null;
        if (config.UseDora)
        {
            using (Autograd.NoGrad())
                m = RowNorm(weight, null);
            m.RequiresGrad = true;
        }
        return new LoraAdapter(a, b, m, config.Scale, config.Dropout);
    }

    /// <summary>x Wᵀ + b with this adapter applied.</summary>
    internal Tensor Forward(Tensor x, Tensor weight, Tensor? bias, bool training)
    {
        if (Magnitude is null)
            return x.LoraLinear(weight, bias, A, B, Scale, training ? Dropout : 0f);
        var dropped = training && Dropout > 0 ? x.Dropout(Dropout) : x;
        var update = dropped.Linear(A).Linear(B).Scale(Scale);
        // PEFT: (m/‖W + s·BA‖ − 1) · (x̃ Wᵀ) + m/‖·‖ · s·(x̃ Aᵀ)Bᵀ on top of x Wᵀ + b, x̃ the dropped-out x.
        Tensor norm;
        using (Autograd.NoGrad())
            norm = RowNorm(weight, this);
        var ratio = Magnitude / norm;
        var plain = x.Linear(weight);
        var direction = ReferenceEquals(dropped, x) ? plain : dropped.Linear(weight);
        var y = plain + direction * ratio.AddScalar(-1f) + update * ratio;
        return bias is null ? y : y + bias;
    }

    /// <summary>s·BA [out, in] in float32: what merging adds to W.</summary>
    internal Tensor Delta()
    {
        using (Autograd.NoGrad())
            return B.MatMul(A).Scale(Scale);
    }

    /// <summary>‖W + s·BA‖ over each row (the adapter left out when null), float32 [out].</summary>
    internal static Tensor RowNorm(Tensor weight, LoraAdapter? adapter)
    {
        using var scope = new DisposeScope();
        var w = weight.DType == DType.F32 ? weight : weight.To(DType.F32);
        if (adapter is not null)
            w = w + adapter.Delta();
        return w.Square().Sum([1]).Sqrt().MoveToOuterScope();
    }
}
