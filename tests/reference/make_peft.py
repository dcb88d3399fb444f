#!/usr/bin/python3
"""Adapter folders in Hugging Face PEFT's format, written by hand (PEFT is not installed), and the
logits the adapted model gives, for the C# PEFT loading tests.

Run: /usr/bin/python3 tests/reference/make_peft.py (after make_models.py and make_lora.py).
Each case writes tests/reference/peft/<case>/: adapter_config.json with PEFT LoraConfig's fields,
adapter_model.safetensors with get_peft_model_state_dict's keys (base_model.model.<key>.lora_A.weight,
.lora_B.weight, DoRA's .lora_magnitude_vector without .weight, modules_to_save as
base_model.model.<module>.weight), and expected.safetensors (input_ids, logits with full attention).
The LoRA values are make_lora.py's; modules_to_save values are the base weights, perturbed so that
loading them shows. Math in float64 (torch_llama.py's model, make_lora.py's DoRA), stored float32.
"""
import json
import pathlib

import torch

import make_lora as ml

tl = ml.tl
HERE = ml.HERE
IDS = [1, 17, 250, 3, 99, 42, 7, 123, 5, 64, 200, 11]

CASES = {
    "llama-gqa": "llama-gqa",
    "llama-gqa-dora": "llama-gqa-dora",
    "llama-gqa-rslora": "llama-gqa-rslora",
    "llama-gqa-embed-norm": "llama-gqa-s2-embed-norm",
}


def adapter_config(meta, base):
    return {
        "alpha_pattern": {},
        "base_model_name_or_path": base,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "layers_pattern": None,
        "layers_to_transform": None,
        "lora_alpha": meta["alpha"],
        "lora_dropout": 0.05,
        "modules_to_save": ["embed_tokens", "norm"] if meta["embed_norm"] else None,
        "peft_type": "LORA",
        "r": meta["r"],
        "rank_pattern": {},
        "revision": None,
        "target_modules": sorted(meta["targets"].split(",")),
        "task_type": "CAUSAL_LM",
        "use_dora": meta["dora"],
        "use_rslora": meta["rslora"],
    }


def make(name, fixture):
    tensors = tl.load_safetensors(str(HERE / "lora" / f"{fixture}.safetensors"))
    meta = {k: json.loads(v) for k, v in read_metadata(HERE / "lora" / f"{fixture}.safetensors").items() if k != "format"}
    folder = HERE / "models" / meta["model"]
    cfg = json.load(open(folder / "config.json"))
    sd = tl.load_model_dir(str(folder))
    out = {}
    if meta["embed_norm"]:
        gen = torch.Generator().manual_seed(3)
        for k in sorted(sd):
            if k == "model.embed_tokens.weight" or k.endswith("norm.weight"):
                w = sd[k].double()
                sd[k] = (w + 0.05 * torch.randn(w.shape, generator=gen, dtype=torch.float64)).float()
                out["base_model.model." + k] = sd[k]
    m = (ml.DoraModel if meta["dora"] else tl.Model)(cfg, sd, torch.float64)
    m.add_lora(meta["targets"].split(","), meta["r"], meta["alpha"], seed=0, rslora=meta["rslora"])
    for key, ad in m.lora.items():
        ad.A = tensors[key + ".lora_A.weight"].double()
        ad.B = tensors[key + ".lora_B.weight"].double()
        out[f"base_model.model.{key}.lora_A.weight"] = tensors[key + ".lora_A.weight"]
        out[f"base_model.model.{key}.lora_B.weight"] = tensors[key + ".lora_B.weight"]
        if meta["dora"]:
            ad.m = tensors[key + ".lora_magnitude_vector"].double()
            out[f"base_model.model.{key}.lora_magnitude_vector"] = tensors[key + ".lora_magnitude_vector"]
    ids = torch.tensor([IDS])
    with torch.no_grad():
        logits = m.forward(ids).float()
    d = HERE / "peft" / name
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "adapter_config.json", "w") as fh:
        json.dump(adapter_config(meta, f"models/{meta['model']}"), fh, indent=2, sort_keys=True)
        fh.write("\n")
    tl.save_safetensors(str(d / "adapter_model.safetensors"), {k: v.float().contiguous() for k, v in out.items()})
    tl.save_safetensors(str(d / "expected.safetensors"), {"input_ids": ids, "logits": logits})
    print(f"peft/{name}: {len(out)} tensors")


def read_metadata(path):
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        return json.loads(fh.read(n)).get("__metadata__", {})


if __name__ == "__main__":
    for case, fixture in CASES.items():
        make(case, fixture)
