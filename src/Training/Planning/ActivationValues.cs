using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// The float32 values per token a training step holds, read off the code that allocates them
/// (src/Model/Modules, src/Model/Lora/LoraAdapter.cs, src/Autograd/Ops). Every op output lives until the
/// step's DisposeScope ends, after backward; views and the temporaries an op disposes itself cost
/// nothing. Backward frees each gradient once its consumer has run, so at any moment only a few are in
/// flight: the widest moments of a layer's backward are counted, with the residual stream's gradient.
/// </summary>
internal sealed class ActivationValues
{
    public ActivationValues(ModelConfig c, LoraConfig lora)
    {
        double h = c.HiddenSize, q = (double)c.NumHeads * c.HeadDim, kv = (double)c.NumKvHeads * c.HeadDim, f = c.IntermediateSize;
        double Projection(string key, double input, double output, bool bias) => Kept(lora, key, input, output, bias);
        Layer = Norm(h)
            + Projection("self_attn.q_proj", h, q, c.AttentionBias) + Projection("self_attn.k_proj", h, kv, c.AttentionBias)
            + Projection("self_attn.v_proj", h, kv, c.AttentionBias)
            + (c.QkNorm ? q + c.NumHeads + kv + c.NumKvHeads : 0) // Qwen3's per-head norms: outputs and rstd
            + q + kv                                             // RoPE'd q and k
            + q + c.NumHeads                                     // attention's output and its row log-sum-exp
            + Projection("self_attn.o_proj", q, h, c.OutputBias)
            + h                                                  // residual
            + Norm(h)
            + Projection("mlp.gate_proj", h, f, false) + Projection("mlp.up_proj", h, f, false)
            + f                                                  // silu(gate) · up
            + Projection("mlp.down_proj", f, h, false)
            + h;                                                 // residual
        // ids, positions and targets (int64, two values each), the embedding's output, the final norm,
        // and the loss's per-row weights and log-sum-exp.
        Beside = 6 + h + Norm(h) + 2;
        // With no gradient reaching the first layer's input (a frozen embedding and input norm), ops on it
        // record nothing and free what they saved for backward: the norm's rstd, the adapters' dropout masks.
        FirstLayerUnrecorded = 1 + (lora.Dropout > 0 ? new[] { "q_proj", "k_proj", "v_proj" }.Count(p => lora.Targets("model.layers.0.self_attn." + p)) * h : 0);
        // SwiGLU's backward: its output's gradient and the two it makes; an adapted gate or up adds its
        // input's gradient from the frozen path while the adapter's own is made.
        bool gateOrUp = lora.Targets("model.layers.0.mlp.gate_proj") || lora.Targets("model.layers.0.mlp.up_proj");
        MlpBackward = h + 3 * f + (gateOrUp ? h : 0);
        // The attention kernel's backward: the gradient of its output, then dq, dk and dv.
        AttentionBackward = h + 2 * q + 2 * kv;
    }

    /// <summary>Kept for backward by one decoder layer when nothing is recomputed.</summary>
    public double Layer { get; }

    /// <summary>What the first layer does not keep when no gradient reaches its input.</summary>
    public double FirstLayerUnrecorded { get; }

    /// <summary>Kept once, beside the layers.</summary>
    public double Beside { get; }

    /// <summary>Gradients in flight at the widest moment of a layer's MLP backward.</summary>
    public double MlpBackward { get; }

    /// <summary>Gradients in flight while a layer's attention kernel runs backward (its workspace aside).</summary>
    public double AttentionBackward { get; }

    /// <summary>RMSNorm keeps its output and one rstd per row.</summary>
    private static double Norm(double d) => d + 1;

    /// <summary>
    /// A linear layer's output; with an adapter (LoraAdapter.Forward): the dropout mask and dropped input,
    /// x̃ Aᵀ and the output (one fused op, LoraLinearOp); DoRA's composition keeps x̃ Aᵀ, (·)Bᵀ, its scaled
    /// copy, x Wᵀ and x̃ Wᵀ of the dropped input, the two rescaled terms, two sums and the bias add.
    /// </summary>
    private static double Kept(LoraConfig lora, string key, double input, double output, bool bias)
    {
        if (!lora.Targets("model.layers.0." + key))
            return output;
        bool dropout = lora.Dropout > 0;
        double masked = (dropout ? 2 * input : 0) + lora.R;
        return lora.UseDora ? masked + 7 * output + (dropout ? output : 0) + (bias ? output : 0) : masked + output;
    }
}
