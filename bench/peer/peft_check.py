#!/usr/bin/env python3
"""Does Hugging Face PEFT compute rawlora's logits from an adapter rawlora trained?

Run by `bench gpu-check` (bench/gpucheck/PeftCheck.cs), which writes the three inputs: --base, a tiny
model folder (config.json, model.safetensors); --adapter, the adapter our engine trained on the GPU,
in PEFT's format; --expected, a JSON file of our logits on a few ids. Loads the base with
transformers in float32, the adapter with PeftModel.from_pretrained, runs the ids, and writes the
max relative error (largest absolute difference over the largest magnitude of ours) to --json.
Exit 0 within --tolerance, 1 past it, 3 where torch, transformers or peft cannot be imported.
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="the base model folder")
    ap.add_argument("--adapter", required=True, help="the adapter folder (adapter_config.json, adapter_model.safetensors)")
    ap.add_argument("--expected", required=True, help="our logits: JSON with input_ids, shape, logits")
    ap.add_argument("--json", required=True, help="where the figures go")
    ap.add_argument("--device", default=None, help="torch device (default: cuda when there is one)")
    ap.add_argument("--tolerance", type=float, default=1e-3)
    args = ap.parse_args()
    try:
        import peft
        import torch
        import transformers
    except ImportError as e:
        print(f"peft_check.py: {e.name or e} is not installed for {sys.executable}; the PEFT check needs torch, transformers and peft")
        sys.exit(3)

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    with open(args.expected) as f:
        expected = json.load(f)
    ids = torch.tensor(expected["input_ids"], dtype=torch.long)
    ours = torch.tensor(expected["logits"], dtype=torch.float32).reshape(expected["shape"])

    # dtype is transformers 5's name (4.x took torch_dtype, and loads float32 without it).
    model = transformers.AutoModelForCausalLM.from_pretrained(args.base, dtype=torch.float32, attn_implementation="eager")
    model = peft.PeftModel.from_pretrained(model, args.adapter).to(device).eval()
    with torch.no_grad():
        theirs = model(input_ids=ids.to(device)).logits.float().cpu()
    error = ((theirs - ours).abs().max() / ours.abs().max()).item()
    figures = {
        "max_relative_error": error, "tolerance": args.tolerance, "device": device,
        "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
    }
    with open(args.json, "w") as f:
        json.dump(figures, f, indent=2)
    print(f"peft_check.py: PeftModel.from_pretrained logits vs ours: max relative error {error:.2e} "
          f"({'ok' if error <= args.tolerance else 'FAILS'}, tolerance {args.tolerance:g}) on {device}")
    sys.exit(0 if error <= args.tolerance else 1)


if __name__ == "__main__":
    main()
