#!/usr/bin/python3
"""Adapter folders in Hugging Face PEFT's format, written by hand (PEFT is not installed), and the
logits the adapted model gives, for the C# PEFT loading tests.

Run: /usr/bin/python3 tests/reference/make_peft.py (after make_models.py and make_lora.py).
Each case writes tests/reference/peft/<case>/: adapter_config.json with PEFT LoraConfig's fields,
adapter_model.safetensors with get_peft_model_state_dict's keys (base_model.model.<key>.lora_A.weight,
.lora_B.weight, DoRA's .lora_magnitude_vector without .weight, modules_to_save as
base_model.model.<module>.weight), and expected.safetensors (input_ids, logits with full attention).
The LoRA values are make_lora.py's; modules_to_save values are the base weights, perturbed so that
loading them shows. The logits are those of the model as PEFT's loading leaves it (peft_loaded below).
For a model with tied embeddings the adapter trains the shared embedding, so it lists lm_head among
modules_to_save with the trained embedding as its weight, and sets ensure_weight_tying (PEFT >= 0.18
ties the two copies; older versions load each from the file, which holds the same values);
expected.safetensors then also holds `logits_without_lm_head`, what PEFT computes when the lm_head
entry is left out (the embedding trained, the head still the base's). Math in float64 (torch_llama.py's
model, make_lora.py's DoRA), stored float32.
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
    "qwen2-tied-embed-norm": "qwen2-tied-embed-norm",
}
PREFIX = "base_model.model."


def adapter_config(meta, base, tied):
    saved = ["embed_tokens", "norm"] + (["lm_head"] if tied else [])
    config = {
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
        "modules_to_save": saved if meta["embed_norm"] else None,
        "peft_type": "LORA",
        "r": meta["r"],
        "rank_pattern": {},
        "revision": None,
        "target_modules": sorted(meta["targets"].split(",")),
        "task_type": "CAUSAL_LM",
        "use_dora": meta["dora"],
        "use_rslora": meta["rslora"],
    }
    if tied:
        config["ensure_weight_tying"] = True
    return config


def peft_loaded(base, saved, tied):
    """The base state dict as PeftModel.from_pretrained leaves it: each modules_to_save module is a copy
    loaded from the adapter file. A tied lm_head that the file does not hold keeps the base embedding:
    PEFT wraps only embed_tokens, and the original lm_head stays tied to the original embedding."""
    sd = dict(base)
    if tied:
        sd["lm_head.weight"] = base["model.embed_tokens.weight"]
    for k, v in saved.items():
        if ".lora_" not in k:
            sd[k.removeprefix(PREFIX)] = v
    return sd


def make(name, fixture):
    tensors = tl.load_safetensors(str(HERE / "lora" / f"{fixture}.safetensors"))
    meta = {k: json.loads(v) for k, v in read_metadata(HERE / "lora" / f"{fixture}.safetensors").items() if k != "format"}
    folder = HERE / "models" / meta["model"]
    cfg = json.load(open(folder / "config.json"))
    tied = meta["embed_norm"] and cfg.get("tie_word_embeddings", False)
    base = tl.load_model_dir(str(folder))
    out = {}
    if meta["embed_norm"]:
        gen = torch.Generator().manual_seed(3)
        for k in sorted(base):
            if k == "model.embed_tokens.weight" or k.endswith("norm.weight"):
                w = base[k].double()
                out[PREFIX + k] = (w + 0.05 * torch.randn(w.shape, generator=gen, dtype=torch.float64)).float()
    if tied:
        out[PREFIX + "lm_head.weight"] = out[PREFIX + "model.embed_tokens.weight"]
    for key in sorted({k.rsplit(".lora_", 1)[0] for k in tensors if ".lora_" in k}):
        out[f"{PREFIX}{key}.lora_A.weight"] = tensors[key + ".lora_A.weight"]
        out[f"{PREFIX}{key}.lora_B.weight"] = tensors[key + ".lora_B.weight"]
        if meta["dora"]:
            out[f"{PREFIX}{key}.lora_magnitude_vector"] = tensors[key + ".lora_magnitude_vector"]

    def logits(sd):
        m = (ml.DoraModel if meta["dora"] else tl.Model)(cfg, sd, torch.float64)
        m.add_lora(meta["targets"].split(","), meta["r"], meta["alpha"], seed=0, rslora=meta["rslora"])
        for key, ad in m.lora.items():
            ad.A = out[f"{PREFIX}{key}.lora_A.weight"].double()
            ad.B = out[f"{PREFIX}{key}.lora_B.weight"].double()
            if meta["dora"]:
                ad.m = out[f"{PREFIX}{key}.lora_magnitude_vector"].double()
        with torch.no_grad():
            return m.forward(ids).float()

    ids = torch.tensor([IDS])
    expected = {"input_ids": ids, "logits": logits(peft_loaded(base, out, tied))}
    if tied:
        # Our model: one shared matrix, the trained embedding, is also the head.
        ours = {**base, **{k.removeprefix(PREFIX): v for k, v in out.items() if k.startswith(PREFIX + "model.")}}
        assert torch.equal(logits(ours), expected["logits"]), "PEFT's copies must compute the tied model's logits"
        without = {k: v for k, v in out.items() if k != PREFIX + "lm_head.weight"}
        expected["logits_without_lm_head"] = logits(peft_loaded(base, without, tied))
        gap = (expected["logits_without_lm_head"] - expected["logits"]).abs().max().item()
        assert gap > 1e-2 * expected["logits"].abs().max().item(), "without lm_head PEFT must compute other logits"
        print(f"peft/{name}: without the lm_head entry PEFT's logits move by up to {gap:.3g}")
    d = HERE / "peft" / name
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "adapter_config.json", "w") as fh:
        json.dump(adapter_config(meta, f"models/{meta['model']}", tied), fh, indent=2, sort_keys=True)
        fh.write("\n")
    tl.save_safetensors(str(d / "adapter_model.safetensors"), {k: v.float().contiguous() for k, v in out.items()})
    tl.save_safetensors(str(d / "expected.safetensors"), expected)
    print(f"peft/{name}: {len(out)} tensors")


def read_metadata(path):
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        return json.loads(fh.read(n)).get("__metadata__", {})


if __name__ == "__main__":
    for case, fixture in CASES.items():
        make(case, fixture)
