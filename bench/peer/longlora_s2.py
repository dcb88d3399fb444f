"""LongLoRA's shifted sparse attention (S2-Attn) on torch's scaled_dot_product_attention, as LongLoRA's own code runs
it: the second half of the heads rolled by -G/2 along the sequence, the T/G groups of G tokens as a batch of causal
attentions, the output rolled back. Ours does not wrap the shifted groups around, which costs the same. Shared by the
GPU peers (hf_step_peer.py's attention implementation, attention_sdpa_peer.py's timings). Standard library only here:
torch comes from the caller."""


def s2_attention(torch, q, k, v, group, scale=None):
    """q [B, H, T, D], k and v [B, Hkv, T, D] (grouped-query heads when Hkv < H): o [B, H, T, D]."""
    b, h, t, d = q.shape

    def shift(x, sign):
        half = x.shape[1] // 2
        return torch.cat([x[:, :half], x[:, half:].roll(sign * (group // 2), dims=2)], dim=1)

    def groups(x):
        n = x.shape[1]
        return x.reshape(b, n, t // group, group, d).transpose(1, 2).reshape(b * (t // group), n, group, d)

    qg, kg, vg = (groups(shift(x, -1)) for x in (q, k, v))
    o = torch.nn.functional.scaled_dot_product_attention(qg, kg, vg, is_causal=True, scale=scale, enable_gqa=kg.shape[1] != qg.shape[1])
    return shift(o.reshape(b, t // group, h, group, d).transpose(1, 2).reshape(b, h, t, d), +1)
