#!/usr/bin/python3
"""Tiny Hugging Face model folders and the logits / greedy tokens PyTorch computes for them.

Run: /usr/bin/python3 tests/reference/make_models.py (or ./build.sh fixtures). For each config it
writes tests/reference/models/<name>/ (config.json, model.safetensors — random weights from
torch_llama.py's `init`, seed 0) and <name>/expected.safetensors: `input_ids`, `logits` (computed
in float64, stored float32) and `greedy` (8 tokens of greedy decoding after the prompt, each step a
full forward in float64). torch_llama.py is ../shared/peers/torch_llama.py beside the repository, or
the copy in bench/peer/. The outputs are deterministic; the tests read them and need no Python.
"""
import json
import pathlib
import shutil
import sys

import torch

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHARED = ROOT.parent / "shared" / "peers"
sys.path.insert(0, str(SHARED if (SHARED / "torch_llama.py").is_file() else ROOT / "bench" / "peer"))
import torch_llama as tl  # noqa: E402

CONFIGS = {
    "llama-gqa-tiny": HERE / "models" / "llama-gqa-tiny.json",
    "qwen2-tiny": SHARED / "configs" / "qwen2-tiny.json",
    "qwen3-tiny-yarn": SHARED / "configs" / "qwen3-tiny-yarn.json",
}
PROMPT = [1, 17, 250, 3, 99, 42, 7, 123, 5, 64, 200, 11]
GREEDY_STEPS = 8


def make(name, config_path, dtype):
    out = HERE / "models" / name
    out.mkdir(parents=True, exist_ok=True)
    cfg = json.load(open(config_path))
    shutil.copyfile(config_path, out / "config.json")
    sd = {k: v.to(dtype) for k, v in tl.random_state_dict(cfg, 0).items()}
    tl.save_safetensors(str(out / "model.safetensors"), sd, {"format": "pt"})
    model = tl.Model(cfg, tl.load_model_dir(str(out)), torch.float64)
    ids = torch.tensor([PROMPT])
    with torch.no_grad():
        logits = model.forward(ids)
        seq = list(PROMPT)
        for _ in range(GREEDY_STEPS):
            seq.append(int(model.forward(torch.tensor([seq]))[0, -1].argmax()))
    tl.save_safetensors(str(out / "expected.safetensors"), {
        "input_ids": ids.to(torch.int64),
        "logits": logits.float(),
        "greedy": torch.tensor(seq[len(PROMPT):], dtype=torch.int64),
    })
    print(f"wrote {out}")


if __name__ == "__main__":
    for name, path in CONFIGS.items():
        make(name, path, torch.float32)
    # a checkpoint stored in bfloat16: the engine loads it into float32
    make("llama-gqa-tiny-bf16", CONFIGS["llama-gqa-tiny"], torch.bfloat16)
