# A copy of ../shared/peers/torch_llama.py (relative to the repository root), for machines without it; attention_peer.py prefers the shared file when present.
#!/usr/bin/env python3
"""Peer implementation in plain PyTorch: a Llama / Qwen2 / Qwen3 decoder with LoRA and
LongLoRA's shifted sparse attention (S2-Attn), for two uses:

  * a speed peer: `bench` times one LoRA training step (forward, backward, AdamW on the
    trainable tensors) on the same model shape that the C# engine times, in the same run;
  * a numeric peer: `init`, `forward` and `grads` write safetensors files that the C# tests
    can compare against.

Needs only PyTorch (on Debian: apt-get install python3-torch, run with /usr/bin/python3).
The math follows Hugging Face transformers' Llama/Qwen modelling code (rotate-half RoPE,
RMSNorm in float32, grouped-query attention, SwiGLU) and PEFT's LoRA (scale alpha/r).

Model shapes are HF config.json files. Examples:
  python3 torch_llama.py init  --config cfg.json --out model_dir --seed 0
  python3 torch_llama.py forward --model model_dir --ids 1,2,3,4 --out logits.safetensors
  python3 torch_llama.py grads --model model_dir --seq 256 --lora-r 8 --s2 --out grads.safetensors
  python3 torch_llama.py bench --config cfg.json --seq 2048 --batch 1 --steps 5 --lora-r 8 --s2
"""
import argparse, json, math, os, resource, struct, sys, time

import torch
import torch.nn.functional as F

# ---------------------------------------------------------------- safetensors (no extra package)
_DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
       "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8}
_DT_NAME = {v: k for k, v in _DT.items()}


def save_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": _DT_NAME[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base, out = 8 + n, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dt = _DT[info["dtype"]]
        buf = bytearray(data[base + a:base + b])
        if dt == torch.bfloat16:
            t = torch.frombuffer(buf, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(buf, dtype=dt) if len(buf) else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def load_model_dir(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        files = sorted(set(json.load(open(idx))["weight_map"].values()))
        sd = {}
        for f in files:
            sd.update(load_safetensors(os.path.join(d, f)))
        return sd
    return load_safetensors(os.path.join(d, "model.safetensors"))

# ---------------------------------------------------------------- RoPE (all HF scaling kinds)


def rope_inv_freq(cfg, seq_len):
    """Returns (inv_freq[head_dim/2], attention_factor) following transformers' rope utils."""
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    dim = int(hd * cfg.get("partial_rotary_factor", 1.0))
    # older configs: top-level rope_theta + rope_scaling; newer ones: rope_parameters
    rs = dict(cfg.get("rope_parameters") or cfg.get("rope_scaling") or {})
    base = rs.get("rope_theta", cfg.get("rope_theta", 10000.0))
    kind = rs.get("rope_type", rs.get("type", "default"))
    ar = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim
    inv = 1.0 / (base ** ar)
    if kind == "default":
        return inv, 1.0
    factor = rs["factor"]
    if kind == "linear":
        return inv / factor, 1.0
    if kind == "dynamic":
        mpe = cfg["max_position_embeddings"]
        if seq_len > mpe:
            base = base * ((factor * seq_len / mpe) - (factor - 1)) ** (dim / (dim - 2))
            inv = 1.0 / (base ** ar)
        return inv, 1.0
    if kind == "yarn":
        ompe = rs.get("original_max_position_embeddings") or cfg["max_position_embeddings"]

        def get_mscale(scale, m=1.0):
            return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0
        att = rs.get("attention_factor")
        if att is None:
            m, mad = rs.get("mscale"), rs.get("mscale_all_dim")
            att = get_mscale(factor, m) / get_mscale(factor, mad) if (m and mad) else get_mscale(factor)
        beta_fast, beta_slow = rs.get("beta_fast") or 32, rs.get("beta_slow") or 1

        def corr_dim(rot):
            return (dim * math.log(ompe / (rot * 2 * math.pi))) / (2 * math.log(base))
        low, high = corr_dim(beta_fast), corr_dim(beta_slow)
        if rs.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
        extra = 1 - ramp
        pos = base ** ar
        inv = (1.0 / (factor * pos)) * (1 - extra) + (1.0 / pos) * extra
        return inv, att
    if kind == "llama3":
        ompe = rs["original_max_position_embeddings"]
        lo, hi = rs["low_freq_factor"], rs["high_freq_factor"]
        lo_wl, hi_wl = ompe / lo, ompe / hi
        wl = 2 * math.pi / inv
        out = torch.where(wl > lo_wl, inv / factor, inv)
        smooth = (ompe / wl - lo) / (hi - lo)
        smoothed = (1 - smooth) * out / factor + smooth * out
        medium = ~(wl < hi_wl) & ~(wl > lo_wl)
        return torch.where(medium, smoothed, out), 1.0
    raise ValueError(f"unsupported rope scaling kind {kind!r}")


def rope_cos_sin(cfg, positions, seq_len):
    inv, att = rope_inv_freq(cfg, seq_len)
    freqs = positions.float()[:, None] * inv[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos() * att, emb.sin() * att


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def apply_rope(x, cos, sin):  # x: [B, H, T, hd]
    rot = cos.shape[-1]
    xr, xp = x[..., :rot], x[..., rot:]
    xr = xr * cos + rotate_half(xr) * sin
    return torch.cat([xr, xp], dim=-1)

# ---------------------------------------------------------------- model


def rms_norm(x, w, eps):
    dt = x.dtype
    x32 = x.float()
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return w * x32.to(dt)


class Lora:
    """PEFT-style adapter: y += (dropout(x) @ A^T) @ B^T * alpha/r, A kaiming-uniform, B zero."""

    def __init__(self, in_f, out_f, r, alpha, dtype, gen, rslora=False):
        self.A = torch.empty(r, in_f, dtype=dtype)
        bound = 1.0 / math.sqrt(in_f)  # kaiming_uniform_(a=sqrt(5)) on [r, in_f]
        self.A.uniform_(-bound, bound, generator=gen)
        self.B = torch.zeros(out_f, r, dtype=dtype)
        self.scale = alpha / math.sqrt(r) if rslora else alpha / r
        self.A.requires_grad_(True)
        self.B.requires_grad_(True)


def causal_attention(q, k, v, mask=None):
    """q, k, v: [..., T, hd]; causal inside the last two axes (and `mask` if given)."""
    T, hd = q.shape[-2], q.shape[-1]
    att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
    keep = torch.ones(T, T, dtype=torch.bool).tril()
    if mask is not None:
        keep = keep & mask
    att = att.masked_fill(~keep, float("-inf"))
    att = att.to(torch.promote_types(q.dtype, torch.float32)).softmax(-1).to(q.dtype)
    return att @ v


def s2_attention(q, k, v, group):
    """LongLoRA S2-Attn in the form of the official flash-attn varlen code (no wrap-around):
    heads of the first half attend causally inside groups [kG, (k+1)G); heads of the second
    half inside groups shifted by G/2: [0, G/2), [G/2, 3G/2), ..., [T-G/2, T).
    Cost is O(T*G), as in the reference: groups are folded into a batch axis."""
    B, H, T, hd = q.shape
    n, half, s = T // group, H // 2, group // 2

    def grouped(x):  # [B, h, T, hd] -> [B, h, n, G, hd]
        return x.reshape(B, x.shape[1], n, group, hd)

    out_plain = causal_attention(*(grouped(t[:, :half]) for t in (q, k, v)))
    # shifted heads: roll left by G/2 so that the groups line up, and keep the last group's
    # two halves ([T-G/2, T) and the wrapped [0, G/2)) from seeing each other
    rolled = [grouped(t[:, half:].roll(-s, dims=2)) for t in (q, k, v)]
    i = torch.arange(group)
    same_half = (i[:, None] < s) == (i[None, :] < s)
    mask = torch.ones(n, group, group, dtype=torch.bool)
    mask[-1] = same_half
    out_shift = causal_attention(*rolled, mask=mask).reshape(B, H - half, T, hd).roll(s, dims=2)
    return torch.cat([out_plain.reshape(B, half, T, hd), out_shift], dim=1)


class Model:
    def __init__(self, cfg, sd, dtype=torch.float32):
        self.cfg = cfg
        self.dtype = dtype
        self.sd = {k: v.to(dtype) for k, v in sd.items()}
        self.L = cfg["num_hidden_layers"]
        self.nh = cfg["num_attention_heads"]
        self.nkv = cfg.get("num_key_value_heads") or self.nh
        self.hd = cfg.get("head_dim") or cfg["hidden_size"] // self.nh
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        self.lora = {}
        self.trainable_extra = []

    def add_lora(self, targets, r, alpha, seed=0, rslora=False):
        gen = torch.Generator().manual_seed(seed)
        for l in range(self.L):
            for t in targets:
                sub = "self_attn" if t in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
                key = f"model.layers.{l}.{sub}.{t}"
                out_f, in_f = self.sd[key + ".weight"].shape
                self.lora[key] = Lora(in_f, out_f, r, alpha, self.dtype, gen, rslora)

    def train_embed_and_norms(self):
        """LongLoRA's '+': embedding and every RMSNorm weight become trainable too."""
        for k, v in self.sd.items():
            if k == "model.embed_tokens.weight" or k.endswith("norm.weight"):
                v.requires_grad_(True)
                self.trainable_extra.append(k)

    def trainable(self):
        ps = [self.sd[k] for k in self.trainable_extra]
        for a in self.lora.values():
            ps += [a.A, a.B]
        return ps

    def linear(self, x, key):
        y = x @ self.sd[key + ".weight"].t()
        b = self.sd.get(key + ".bias")
        if b is not None:
            y = y + b
        a = self.lora.get(key)
        if a is not None:
            y = y + (x @ a.A.t()) @ a.B.t() * a.scale
        return y

    def forward(self, ids, s2=False, group_ratio=0.25):
        cfg, sd = self.cfg, self.sd
        B, T = ids.shape
        x = sd["model.embed_tokens.weight"][ids]
        cos, sin = rope_cos_sin(cfg, torch.arange(T), T)
        cos, sin = cos.to(self.dtype), sin.to(self.dtype)
        group = int(T * group_ratio) if s2 else T
        if s2:
            assert T % group == 0 and group % 2 == 0, "S2-Attn needs T divisible into even groups"
        for l in range(self.L):
            p = f"model.layers.{l}."
            h = rms_norm(x, sd[p + "input_layernorm.weight"], self.eps)
            q = self.linear(h, p + "self_attn.q_proj").view(B, T, self.nh, self.hd).transpose(1, 2)
            k = self.linear(h, p + "self_attn.k_proj").view(B, T, self.nkv, self.hd).transpose(1, 2)
            v = self.linear(h, p + "self_attn.v_proj").view(B, T, self.nkv, self.hd).transpose(1, 2)
            if p + "self_attn.q_norm.weight" in sd:  # Qwen3
                q = rms_norm(q, sd[p + "self_attn.q_norm.weight"], self.eps)
                k = rms_norm(k, sd[p + "self_attn.k_norm.weight"], self.eps)
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            rep = self.nh // self.nkv
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
            o = s2_attention(q, k, v, group) if s2 else causal_attention(q, k, v)
            o = o.transpose(1, 2).reshape(B, T, self.nh * self.hd)
            x = x + self.linear(o, p + "self_attn.o_proj")
            h = rms_norm(x, sd[p + "post_attention_layernorm.weight"], self.eps)
            g = self.linear(h, p + "mlp.gate_proj")
            u = self.linear(h, p + "mlp.up_proj")
            x = x + self.linear(F.silu(g) * u, p + "mlp.down_proj")
        x = rms_norm(x, sd["model.norm.weight"], self.eps)
        head = sd.get("lm_head.weight", sd["model.embed_tokens.weight"])
        return x @ head.t()


def causal_lm_loss(logits, ids):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), ids[:, 1:].reshape(-1))


def random_state_dict(cfg, seed, std=0.02):
    g = torch.Generator().manual_seed(seed)
    d, f, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    hd = cfg.get("head_dim") or d // nh
    bias = cfg.get("attention_bias", False) or cfg.get("model_type") == "qwen2"
    sd = {"model.embed_tokens.weight": torch.randn(V, d, generator=g) * std,
          "model.norm.weight": 1 + 0.1 * torch.randn(d, generator=g)}
    if not cfg.get("tie_word_embeddings", False):
        sd["lm_head.weight"] = torch.randn(V, d, generator=g) * std
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        shapes = {"self_attn.q_proj": (nh * hd, d), "self_attn.k_proj": (nkv * hd, d),
                  "self_attn.v_proj": (nkv * hd, d), "self_attn.o_proj": (d, nh * hd),
                  "mlp.gate_proj": (f, d), "mlp.up_proj": (f, d), "mlp.down_proj": (d, f)}
        for name, shp in shapes.items():
            sd[p + name + ".weight"] = torch.randn(*shp, generator=g) * std
        if bias:
            for name in ("q_proj", "k_proj", "v_proj"):
                sd[p + f"self_attn.{name}.bias"] = torch.randn(sd[p + f"self_attn.{name}.weight"].shape[0], generator=g) * std
        sd[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(d, generator=g)
        sd[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(d, generator=g)
        if cfg.get("model_type") == "qwen3":
            sd[p + "self_attn.q_norm.weight"] = 1 + 0.1 * torch.randn(hd, generator=g)
            sd[p + "self_attn.k_norm.weight"] = 1 + 0.1 * torch.randn(hd, generator=g)
    return sd

# ---------------------------------------------------------------- commands


def parse_ids(s):
    return torch.tensor([[int(t) for t in s.split(",")]])


def cmd_init(a):
    cfg = json.load(open(a.config))
    os.makedirs(a.out, exist_ok=True)
    json.dump(cfg, open(os.path.join(a.out, "config.json"), "w"), indent=2)
    dt = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[a.dtype]
    sd = {k: v.to(dt) for k, v in random_state_dict(cfg, a.seed).items()}
    save_safetensors(os.path.join(a.out, "model.safetensors"), sd, {"format": "pt"})
    print(f"wrote {a.out}")


def cmd_forward(a):
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    m = Model(cfg, load_model_dir(a.model), torch.float64 if a.f64 else torch.float32)
    ids = parse_ids(a.ids)
    with torch.no_grad():
        logits = m.forward(ids, s2=a.s2)
    save_safetensors(a.out, {"input_ids": ids.to(torch.int64), "logits": logits.float()})
    print(f"wrote {a.out}: logits {list(logits.shape)}")


def cmd_grads(a):
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    dt = torch.float64 if a.f64 else torch.float32
    m = Model(cfg, load_model_dir(a.model), dt)
    m.add_lora(a.targets.split(","), a.lora_r, a.lora_alpha, seed=a.seed)
    for ad in m.lora.values():  # non-zero B so that A receives a gradient too
        with torch.no_grad():
            ad.B.normal_(0, 0.02, generator=torch.Generator().manual_seed(a.seed + 1))
    if a.embed_norm:
        m.train_embed_and_norms()
    g = torch.Generator().manual_seed(a.seed)
    ids = torch.randint(0, cfg["vocab_size"], (1, a.seq), generator=g)
    loss = causal_lm_loss(m.forward(ids, s2=a.s2), ids)
    loss.backward()
    out = {"input_ids": ids, "loss": loss.detach().reshape(1).float()}
    for k, ad in m.lora.items():
        out[k + ".lora_A.weight"] = ad.A.detach().float()
        out[k + ".lora_B.weight"] = ad.B.detach().float()
        out[k + ".lora_A.grad"] = ad.A.grad.float()
        out[k + ".lora_B.grad"] = ad.B.grad.float()
    for k in m.trainable_extra:
        out[k + ".grad"] = m.sd[k].grad.float()
    save_safetensors(a.out, out)
    print(f"wrote {a.out}: loss {loss.item():.6f}")


def cmd_bench(a):
    torch.set_num_threads(a.threads)
    cfg = json.load(open(a.config))
    dt = {"f32": torch.float32, "bf16": torch.bfloat16}[a.dtype]
    m = Model(cfg, random_state_dict(cfg, a.seed), dt)
    m.add_lora(a.targets.split(","), a.lora_r, a.lora_alpha)
    if a.embed_norm:
        m.train_embed_and_norms()
    opt = torch.optim.AdamW(m.trainable(), lr=1e-4)
    g = torch.Generator().manual_seed(a.seed)
    times = []
    for step in range(a.warmup + a.steps):
        ids = torch.randint(0, cfg["vocab_size"], (a.batch, a.seq), generator=g)
        t0 = time.perf_counter()
        loss = causal_lm_loss(m.forward(ids, s2=a.s2), ids)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        dt_s = time.perf_counter() - t0
        if step >= a.warmup:
            times.append(dt_s)
    times.sort()
    med = times[len(times) // 2]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peer": "pytorch-" + torch.__version__, "threads": a.threads, "seq": a.seq,
                      "batch": a.batch, "s2": a.s2, "step_s_median": med,
                      "tokens_per_s": a.batch * a.seq / med, "peak_rss_mb": round(rss_mb, 1)}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def lora_args(s):
        s.add_argument("--lora-r", type=int, default=8)
        s.add_argument("--lora-alpha", type=float, default=16)
        s.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj")
        s.add_argument("--embed-norm", action="store_true", help="also train embedding and norms")
        s.add_argument("--s2", action="store_true", help="use S2-Attn (group = seq/4)")
        s.add_argument("--seed", type=int, default=0)

    s = sub.add_parser("init"); s.add_argument("--config", required=True); s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--dtype", default="f32", choices=["f32", "bf16", "f16"], help="stored weight type")
    s.set_defaults(fn=cmd_init)
    s = sub.add_parser("forward"); s.add_argument("--model", required=True); s.add_argument("--ids", required=True)
    s.add_argument("--out", required=True); s.add_argument("--s2", action="store_true")
    s.add_argument("--f64", action="store_true"); s.set_defaults(fn=cmd_forward)
    s = sub.add_parser("grads"); s.add_argument("--model", required=True); s.add_argument("--seq", type=int, default=64)
    s.add_argument("--out", required=True); s.add_argument("--f64", action="store_true"); lora_args(s)
    s.set_defaults(fn=cmd_grads)
    s = sub.add_parser("bench"); s.add_argument("--config", required=True); s.add_argument("--seq", type=int, default=1024)
    s.add_argument("--batch", type=int, default=1); s.add_argument("--steps", type=int, default=5)
    s.add_argument("--warmup", type=int, default=1); s.add_argument("--threads", type=int, default=os.cpu_count())
    s.add_argument("--dtype", default="f32", choices=["f32", "bf16"]); lora_args(s); s.set_defaults(fn=cmd_bench)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
