#!/usr/bin/env python3
"""GPU peer for `bench step --device cuda`: the same LongLoRA training step with Hugging Face transformers
+ PEFT on the same GPU, as LongLoRA's own training runs it: a Llama of the request's config.json shape
with random bf16 weights, LoRA on q, k, v, o (alpha 16), the embedding and norms in modules_to_save,
gradient checkpointing (non-reentrant), S2-Attn, torch.optim.AdamW. S2-Attn is LongLoRA's: half the
heads shifted by G/2 (a roll, as LongLoRA's code does; ours does not wrap, which costs the same), then
causal attention within groups of G = T/4 through torch's scaled_dot_product_attention (flash on a GPU),
registered as a transformers attention implementation. It stays loaded, so that bench step alternates
its steps with ours.

Protocol (bench/Peer.cs): one JSON line about itself ({"torch", "transformers", "peft", "gpu"} or
{"error": reason}), then each JSON line on stdin {"config": path, "seq", "batch", "lora_r", "s2",
"embed_norm", "checkpointing", "steps"} runs that many steps (the first request of a shape builds the
model) and is answered with {"seconds": [one per step], "loss": the last, "peak_rss_mb", "peak_gpu_mb"}.
"""
import argparse
import json
import resource
import sys
import time

import longlora_s2

_runs = {}


def s2_attention(torch):
    """LongLoRA's shifted sparse attention (longlora_s2.py) as a transformers attention function: q [B, H, T, D], k/v [B, Hkv, T, D]."""
    def attend(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
        o = longlora_s2.s2_attention(torch, query, key, value, query.shape[2] // 4, scaling)
        return o.transpose(1, 2).contiguous(), None

    return attend


def setup(torch, transformers, peft, req):
    cfg = transformers.LlamaConfig(**{k: v for k, v in json.load(open(req["config"])).items() if k not in ("architectures", "torch_dtype", "dtype")})
    cfg.use_cache = False
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)  # made in bf16 on the GPU: no float32 copy of the weights to count in the peak
    try:
        with torch.device("cuda"):
            model = transformers.LlamaForCausalLM._from_config(cfg, attn_implementation="longlora_s2" if req["s2"] else "sdpa")
    finally:
        torch.set_default_dtype(torch.float32)
    if req.get("checkpointing", True):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    lora = peft.LoraConfig(r=req["lora_r"], lora_alpha=16, lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                           modules_to_save=["embed_tokens", "norm"] if req["embed_norm"] else None, task_type="CAUSAL_LM")
    model = peft.get_peft_model(model, lora)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    torch.cuda.reset_peak_memory_stats()  # the steps' peak, as ours is
    return cfg, model, opt, torch.Generator().manual_seed(0)


def run(torch, transformers, peft, req):
    key = json.dumps({k: req.get(k) for k in ("config", "seq", "batch", "lora_r", "s2", "embed_norm", "checkpointing")}, sort_keys=True)
    if key not in _runs:
        _runs[key] = setup(torch, transformers, peft, req)
    cfg, model, opt, g = _runs[key]
    seconds, loss = [], None
    for _ in range(req["steps"]):
        ids = torch.randint(0, cfg.vocab_size, (req["batch"], req["seq"]), generator=g).cuda()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        seconds.append(time.perf_counter() - t0)
    return {"seconds": seconds, "loss": loss.item() if loss is not None else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1)}


def main():
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    try:
        import peft
        import torch
        import transformers
        if not torch.cuda.is_available():
            raise RuntimeError("torch sees no CUDA GPU")
        transformers.AttentionInterface.register("longlora_s2", s2_attention(torch))
    except Exception as e:  # the bench reports why the peer is missing, and goes on without it
        print(json.dumps({"error": f"hf_step_peer.py: {e}"}), flush=True)
        return 1
    print(json.dumps({"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
                      "gpu": torch.cuda.get_device_name(0)}), flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(run(torch, transformers, peft, json.loads(line))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
