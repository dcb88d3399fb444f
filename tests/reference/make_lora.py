#!/usr/bin/python3
"""The loss and every LoRA / trainable-extra gradient PyTorch computes on the tiny models of
make_models.py, for the C# LoRA tests.

Run: /usr/bin/python3 tests/reference/make_lora.py (or ./build.sh fixtures), after make_models.py.
Each case writes tests/reference/lora/<case>.safetensors: `input_ids`, `loss`, and per adapted
layer `<key>.lora_A.weight` / `.lora_B.weight` (the values used: A as PEFT initialises it, B drawn
non-zero so that A gets a gradient) with their `.grad`s, DoRA's `<key>.lora_magnitude_vector` and
its grad, and `<name>.grad` for each trainable extra (embedding, norms). The metadata holds the
case's settings. Math in float64 (torch_llama.py's model, plus rsLoRA and DoRA as PEFT computes
them), stored float32.
"""
import json
import math
import pathlib
import sys

import torch

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHARED = ROOT.parent / "shared" / "peers"
sys.path.insert(0, str(SHARED if (SHARED / "torch_llama.py").is_file() else ROOT / "bench" / "peer"))
import torch_llama as tl  # noqa: E402

ATTN = ["q_proj", "k_proj", "v_proj", "o_proj"]
ALL = ATTN + ["gate_proj", "up_proj", "down_proj"]
SEQ = 64

CASES = {
    "llama-gqa": dict(model="llama-gqa-tiny", targets=ATTN),
    "llama-gqa-s2-embed-norm": dict(model="llama-gqa-tiny", targets=ATTN, s2=True, embed_norm=True),
    "qwen2-tied-embed-norm": dict(model="qwen2-tiny", targets=ATTN, embed_norm=True),
    "qwen3-s2-all-linear": dict(model="qwen3-tiny-yarn", targets=ALL, s2=True, embed_norm=True),
    "llama-gqa-rslora": dict(model="llama-gqa-tiny", targets=ATTN, r=4, alpha=8.0, rslora=True),
    "llama-gqa-dora": dict(model="llama-gqa-tiny", targets=ATTN + ["down_proj"], dora=True),
}


class DoraModel(tl.Model):
    """PEFT's DoRA forward: (m/‖W + s·BA‖ − 1)·xWᵀ + m/‖·‖·s·(xAᵀ)Bᵀ on top of xWᵀ + b, the norm detached."""

    def linear(self, x, key):
        a = self.lora.get(key)
        if a is None:
            return super().linear(x, key)
        w = self.sd[key + ".weight"]
        base = x @ w.t()
        norm = (w + a.scale * (a.B @ a.A)).norm(dim=1).detach()
        ratio = a.m / norm
        y = base + (ratio - 1) * base + ratio * ((x @ a.A.t()) @ a.B.t()) * a.scale
        b = self.sd.get(key + ".bias")
        return y if b is None else y + b


def make(name, model, targets, s2=False, embed_norm=False, r=8, alpha=16.0, rslora=False, dora=False):
    folder = HERE / "models" / model
    cfg = json.load(open(folder / "config.json"))
    m = (DoraModel if dora else tl.Model)(cfg, tl.load_model_dir(str(folder)), torch.float64)
    m.add_lora(targets, r, alpha, seed=0, rslora=rslora)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for ad in m.lora.values():
            ad.B.normal_(0, 0.02, generator=gen)
    if dora:
        for key, ad in m.lora.items():
            w = m.sd[key + ".weight"]
            with torch.no_grad():
                ad.m = (w.norm(dim=1) * (1 + 0.1 * torch.randn(w.shape[0], generator=gen, dtype=torch.float64)))
            ad.m.requires_grad_(True)
    if embed_norm:
        m.train_embed_and_norms()
    ids = torch.randint(0, cfg["vocab_size"], (1, SEQ), generator=torch.Generator().manual_seed(2))
    loss = tl.causal_lm_loss(m.forward(ids, s2=s2), ids)
    loss.backward()
    out = {"input_ids": ids, "loss": loss.detach().reshape(1).float()}
    for key, ad in m.lora.items():
        out[key + ".lora_A.weight"] = ad.A.detach().float()
        out[key + ".lora_B.weight"] = ad.B.detach().float()
        out[key + ".lora_A.grad"] = ad.A.grad.float()
        out[key + ".lora_B.grad"] = ad.B.grad.float()
        if dora:
            out[key + ".lora_magnitude_vector"] = ad.m.detach().float()
            out[key + ".lora_magnitude_vector.grad"] = ad.m.grad.float()
    for key in m.trainable_extra:
        out[key + ".grad"] = m.sd[key].grad.float()
    meta = dict(model=model, targets=",".join(targets), s2=s2, embed_norm=embed_norm, r=r, alpha=alpha,
                rslora=rslora, dora=dora, seq=SEQ)
    (HERE / "lora").mkdir(exist_ok=True)
    tl.save_safetensors(str(HERE / "lora" / f"{name}.safetensors"), out, {k: json.dumps(v) for k, v in meta.items()})
    print(f"lora/{name}.safetensors: loss {loss.item():.6f}, {len(m.lora)} adapters, {len(m.trainable_extra)} extras")


if __name__ == "__main__":
    for case, settings in CASES.items():
        make(case, **settings)
