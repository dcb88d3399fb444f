#!/usr/bin/env python3
"""Does real PEFT compute rawlora's logits for an adapter of a model with tied embeddings?

For a machine with transformers and PEFT (not run by the test suite or `./build.sh fixtures`, which
have neither). From the repository root:

    python3 tests/reference/gpu/peft_tied_head.py [--adapter DIR] [--device cuda]

Loads the tiny Qwen2 (tests/reference/models/qwen2-tiny, tied embeddings) with transformers in
float32, the adapter with PeftModel.from_pretrained, and compares its logits on make_peft.py's ids
with expected.safetensors beside the adapter. The default adapter, peft/qwen2-tied-embed-norm, is
what rawlora writes for that model tensor for tensor (PeftAdapterTests checks it, and that rawlora's
logits are these to 1e-4): embed_tokens and norms trained, lm_head listed in modules_to_save with the
trained embedding, ensure_weight_tying set. Then the same adapter without its lm_head entry: PEFT
should compute `logits_without_lm_head`, make_peft.py's emulation of the bug that entry fixes.
Exits 1 if a comparison fails.
"""
import argparse
import json
import pathlib
import shutil
import sys
import tempfile

import peft
import torch
import transformers
from safetensors.torch import load_file, save_file

REFERENCE = pathlib.Path(__file__).resolve().parents[1]
HEAD = "base_model.model.lm_head.weight"


def peft_logits(base, adapter, ids, device):
    model = transformers.AutoModelForCausalLM.from_pretrained(base, torch_dtype=torch.float32, attn_implementation="eager")
    model = peft.PeftModel.from_pretrained(model, str(adapter)).to(device).eval()
    inner = model.get_base_model()
    head, embed = inner.get_output_embeddings(), inner.get_input_embeddings()
    shared = head.weight.data_ptr() == embed.weight.data_ptr()
    print(f"  lm_head {type(inner.lm_head).__name__}, embed_tokens {type(inner.model.embed_tokens).__name__}; "
          f"active weights {'shared' if shared else 'separate'}, equal: {torch.equal(head.weight, embed.weight)}")
    with torch.no_grad():
        return model(input_ids=ids.to(device)).logits.float().cpu()


def close(name, ours, theirs, tol=1e-4):
    err = (ours - theirs).abs().max().item() / theirs.abs().max().item()
    print(f"  {name}: max relative error {err:.2e} ({'ok' if err <= tol else 'FAILS'})")
    return err <= tol


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", default=str(REFERENCE / "models" / "qwen2-tiny"))
    ap.add_argument("--adapter", default=str(REFERENCE / "peft" / "qwen2-tied-embed-norm"))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, {args.device}")

    adapter = pathlib.Path(args.adapter)
    expected = load_file(str(adapter / "expected.safetensors"))
    ids = expected["input_ids"]
    print(f"{adapter.name} as written:")
    ok = close("logits vs rawlora's", peft_logits(args.base, adapter, ids, args.device), expected["logits"])

    with tempfile.TemporaryDirectory() as tmp:
        stripped = pathlib.Path(tmp)
        config = json.loads((adapter / "adapter_config.json").read_text())
        config.pop("ensure_weight_tying", None)
        config["modules_to_save"] = [m for m in config["modules_to_save"] if m != "lm_head"]
        (stripped / "adapter_config.json").write_text(json.dumps(config, indent=2))
        tensors = {k: v for k, v in load_file(str(adapter / "adapter_model.safetensors")).items() if k != HEAD}
        save_file(tensors, str(stripped / "adapter_model.safetensors"), metadata={"format": "pt"})
        shutil.copy(adapter / "expected.safetensors", stripped)
        print(f"{adapter.name} without lm_head in modules_to_save or the file:")
        theirs = peft_logits(args.base, stripped, ids, args.device)
        ok &= close("logits vs make_peft.py's emulation", theirs, expected["logits_without_lm_head"])
        gap = (theirs - expected["logits"]).abs().max().item() / expected["logits"].abs().max().item()
        print(f"  and they differ from rawlora's by {gap:.2e} relative (the bug the lm_head entry fixes)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
