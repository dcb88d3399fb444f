namespace RawLongLoRA.Training;

/// <summary>
/// The FLOPs of one training step (all ranks together), counted as DESIGN.md says and as the code does
/// the work: a frozen linear layer costs 2 FLOPs a weight a token forward and 2 for its input's
/// gradient (4·N·T; 6·N·T when layers are recomputed); the LM head 2 forward, 2 to remake its logits
/// tiles in backward and 2 for the hidden states' gradient (2 more when it trains); each adapter
/// 2·r·(in + out) a token forward and twice that backward; attention in FlashAttention's convention
/// (causal: 2·D FLOPs forward per query–key pair, T²/2 pairs a head; backward 2.5×), S2-Attn's groups as
/// the kernel visits them: half the heads in groups of G (T·G/2 pairs), the other half in groups shifted
/// by G/2, whose first and last are G/2 long (T·G/2 − G²/4 pairs). <see cref="Total"/> is the work done,
/// which `rawlora plan` predicts time from; <see cref="Model"/> leaves out what is done again (the head's
/// remade logits, checkpointed layers' second forward), the convention of model FLOPs utilisation, which
/// `bench step` reports GFLOP/s and the share of peak with.
/// </summary>
/// <param name="Linear">The decoder layers' frozen projections.</param>
/// <param name="Head">The LM head, in its logits tiles.</param>
/// <param name="Adapters">The LoRA products.</param>
/// <param name="Attention">The attention kernel, forward and backward.</param>
/// <param name="Recomputed">The part of the others that repeats a forward: the head's logits remade in backward and, with gradient checkpointing, the layers' second forward.</param>
public sealed record StepFlops(double Linear, double Head, double Adapters, double Attention, double Recomputed)
{
    /// <summary>The whole step's FLOPs, recomputation included.</summary>
    public double Total => Linear + Head + Adapters + Attention;

    /// <summary>The step's FLOPs with nothing counted twice: <see cref="Total"/> less <see cref="Recomputed"/>.</summary>
    public double Model => Total - Recomputed;

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
        double headForward = 2.0 * c.VocabSize * h * tokens;
        double head = (s.Lora.Saves("model.embed_tokens") && c.TieWordEmbeddings ? 4 : 3) * headForward;
        double adapted = c.NumLayers * linears.Where(l => s.Lora.Targets("model.layers.0." + l.Key)).Sum(l => l.In + l.Out);
        double adapterForward = 2 * s.Lora.R * adapted * tokens;
        double adapters = adapterForward * (recompute ? 4 : 3);
        double attentionForward = 2.0 * c.HeadDim * c.NumLayers * s.Batch * AttendedPairs(s.Tokens, s.GroupRatio, c.NumHeads);
        double recomputed = headForward + (recompute ? 2 * weights * tokens + adapterForward + attentionForward : 0);
        return new StepFlops(linear, head, adapters, attentionForward * (recompute ? 4.5 : 3.5), recomputed);
    }

    /// <summary>Causal query–key pairs of one row over all heads, in the T²/2 convention: every head over the whole row, or S2-Attn's groups.</summary>
    private static double AttendedPairs(int tokens, double groupRatio, int heads)
    {
        double t = tokens;
        if (groupRatio <= 0)
            return heads * t * t / 2;
        double g = Math.Round(t * groupRatio);
        int shifted = heads - heads / 2; // heads [H/2, H) use the shifted groups
        return (heads - shifted) * t * g / 2 + shifted * (t * g / 2 - g * g / 4);
    }
}
