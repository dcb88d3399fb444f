#!/usr/bin/python3
"""PyTorch peer for `bench step`: LongLoRA's training step in PyTorch's eager (non-flash) attention path,
as torch_llama.py writes it (S2-Attn's [G, G] scores per group materialised, as LongLoRA's code does
without flash-attn, which needs a GPU): LoRA on the chosen linear layers, the embedding and norms trained,
forward, backward and torch.optim.AdamW. It stays loaded, so that bench step alternates its steps with ours.

Protocol: peer_protocol.py; each JSON line on stdin {"config": path, "seq", "batch", "lora_r", "s2",
"embed_norm", "steps"} runs that many steps (the first request for a shape builds the model first) and
is answered with one JSON line {"seconds": [one per step], "loss": the last, "peak_rss_mb"}.
"""
import json
import resource
import time

from peer_protocol import import_torch_llama, serve

_runs = {}


def setup(torch, req):
    """The model, optimizer and data stream of a request's shape, as torch_llama.py bench makes them."""
    tl = import_torch_llama()
    cfg = json.load(open(req["config"]))
    m = tl.Model(cfg, tl.random_state_dict(cfg, 0), torch.float32)
    m.add_lora(["q_proj", "k_proj", "v_proj", "o_proj"], req["lora_r"], 16)
    if req["embed_norm"]:
        m.train_embed_and_norms()
    return tl, cfg, m, torch.optim.AdamW(m.trainable(), lr=1e-4), torch.Generator().manual_seed(0)


def run(torch, req):
    key = json.dumps({k: req[k] for k in ("config", "seq", "batch", "lora_r", "s2", "embed_norm")}, sort_keys=True)
    if key not in _runs:
        _runs[key] = setup(torch, req)
    tl, cfg, m, opt, g = _runs[key]
    seconds, loss = [], None
    for _ in range(req["steps"]):
        ids = torch.randint(0, cfg["vocab_size"], (req["batch"], req["seq"]), generator=g)
        t0 = time.perf_counter()
        loss = tl.causal_lm_loss(m.forward(ids, s2=req["s2"]), ids)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - t0)
    return {"seconds": seconds, "loss": loss.item() if loss is not None else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


if __name__ == "__main__":
    raise SystemExit(serve(run, describe=lambda torch: {"source": import_torch_llama().__file__}))
