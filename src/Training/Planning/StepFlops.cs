namespace RawLongLoRA.Training;

/// <summary>
/// The FLOPs of one training step (all ranks together), counted as DESIGN.md says and as the code does
/// the work: a frozen linear layer costs 2 FLOPs a weight a token forward and 2 for its input's
/// gradient (4·N·T; 6·N·T when layers are recomputed); the LM head 2 forward, 2 to remake its logits
/// tiles in backward and 2 for the hidden states' gradient (2 more when it trains); each adapter
/// 2·r·(in + out) a token forward and twice that backward; attention in FlashAttention's convention
/// (causal forward 2·T²·D·H, backward 2.5×), S2-Attn's groups cutting it to 2·T·G·D·H. The one count
/// `rawlora plan` predicts time from and `bench step` reports GFLOP/s with.
/// </summary>
/// <param name="Linear">The decoder layers' frozen projections.</param>
/// <param name="Head">The LM head, in its logits tiles.</param>
/// <param name="Adapters">The LoRA products.</param>
/// <param name="Attention">The attention kernel, forward and backward.</param>
public sealed record StepFlops(double Linear, double Head, double Adapters, double Attention)
{
    /// <summary>The whole step's FLOPs.</summary>
    public double Total => Linear + Head + Adapters + Attention;

    /// <summary>Counts the FLOPs of <paramref name="s"/>.</summary>
    public static StepFlops Of(StepShape s)
    {
        var c = s.Config;
        double h = c.HiddenSize, q = (double)c.NumHeads * c.HeadDim, kv = (double)c.NumKvHeads * c.HeadDim, f = c.IntermediateSize;
        double tokens = (double)s.Batch * s.Tokens;
        bool recompute = s.GradientCheckpointing;
        (string Key, double In, double Out)[] linears =
        [
            ("self_attn.q_proj", h, q), ("self_attn.k_proj", h, kv), ("self_attn.v_proj", h, kv), ("self_attn.o_proj", q, h),
            ("mlp.gate_proj", h, f), ("mlp.up_proj", h, f), ("mlp.down_proj", f, h),
        ];
        double weights = c.NumLayers * linears.Sum(l => l.In * l.Out);
        double linear = (recompute ? 6 : 4) * weights * tokens;
        double head = (s.Lora.Saves("model.embed_tokens") && c.TieWordEmbeddings ? 8 : 6) * c.VocabSize * h * tokens;
        double adapted = c.NumLayers * linears.Where(l => s.Lora.Targets("model.layers.0." + l.Key)).Sum(l => l.In + l.Out);
        double adapters = 2 * s.Lora.R * adapted * tokens * (recompute ? 4 : 3);
        double group = s.GroupRatio > 0 ? Math.Round(s.Tokens * s.GroupRatio) : s.Tokens;
        double attentionForward = 2 * tokens * group * c.HeadDim * c.NumHeads * c.NumLayers;
        return new StepFlops(linear, head, adapters, attentionForward * (recompute ? 4.5 : 3.5));
    }
}
