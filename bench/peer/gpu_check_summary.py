#!/usr/bin/env python3
"""The short table scripts/gpu-check.sh prints last: gpu-check's verdict and its rows that did not pass; the kernel
variants' figures — attention fwd+bwd TFLOP/s beside PyTorch SDPA, the S2-Attn speed-ups, the LoRA projection's time
over the plain projection's, each with issue 15's target, and any variant that failed its validation; then bench
step's tokens/s, MFU and ratio to transformers + PEFT. Reads OUT/gpu-check.json, OUT/attention.json, OUT/lora.json
and OUT/step.json; a missing file (a run that timed out or crashed) is a line saying so. Standard library only."""
import argparse
import json
import pathlib


def load(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        print(f"  {path.name}: not there or not JSON ({e.__class__.__name__}); see the log beside it")
        return None


# Issue 15's targets: causal d128 T = 16K fwd+bwd at FlashAttention-2's H100 level and at least SDPA's; S2-Attn at
# 16K 3.5 times faster than full causal; the LoRA projection within 10% of the plain projection's time.
ATTENTION_TFLOPS, S2_SPEED_UP, LORA_RATIO = 330, 3.5, 1.10


def kernels(attention, attention_exit, lora, lora_exit):
    """The kernel benches' lines: validations that failed, attention fwd+bwd rows with the peer, S2 speed-ups,
    LoRA ratios, and the targets met or not."""
    if attention is not None:
        print(f"bench attention (exit {attention_exit}) on {attention['machine'].get('gpu') or 'no GPU named'}:")
        if not attention["records"]:
            print("  no figures; see attention.log")
        failed(attention)
        for r in attention["records"]:
            if r["unit"] == "TFLOP/s" and r["name"].startswith("fwd+bwd "):
                peer = f"  {r['peer']} {r['peer_value']:.0f}  ×{r['ratio']:.2f}" if r.get("peer_value") else ""
                print(f"  {r['name']:<28} {r['variant']:<18} {r['value']:>7.1f} TFLOP/s{peer}")
        for r in attention["records"]:
            if r["name"].startswith("S2 speed-up "):
                peer = f"  ({r['peer']} ×{r['peer_value']:.2f})" if r.get("peer_value") else ""
                print(f"  {r['name']:<34} {r['variant']:<12} ×{r['value']:.2f}{peer}")
        for variant in sorted({r["variant"].split(" ", 1)[1] for r in attention["records"] if r["unit"] == "TFLOP/s"}):
            target = next((r for r in attention["records"] if r["unit"] == "TFLOP/s" and r["variant"] == f"causal {variant}"
                           and r["name"].startswith("fwd+bwd T=16384 d128 ")), None)
            s2 = next((r for r in attention["records"] if r["name"].startswith("S2 speed-up T=16384 d128 ") and r["variant"] == variant), None)
            if target is not None:
                peer = target.get("peer_value")
                met = target["value"] >= ATTENTION_TFLOPS and peer is not None and target["value"] >= peer
                line = (f"  target {variant}: fwd+bwd causal d128 T=16K {target['value']:.0f} TFLOP/s (≥ {ATTENTION_TFLOPS} and ≥ SDPA's "
                        f"{'(not measured)' if peer is None else f'{peer:.0f}'}): {'met' if met else 'not met'}")
                if s2 is not None:
                    line += f"; S2 ×{s2['value']:.2f} (≥ {S2_SPEED_UP}): {'met' if s2['value'] >= S2_SPEED_UP else 'not met'}"
                print(line)
    if lora is not None:
        print(f"bench lora (exit {lora_exit}):")
        if not lora["records"]:
            print("  no figures; see lora.log")
        failed(lora)
        for r in lora["records"]:
            if r["unit"] == "× plain time":
                print(f"  {r['name']:<46} {r['variant']:<10} ×{r['value']:.2f} (target ≤ {LORA_RATIO}: {'met' if r['value'] <= LORA_RATIO else 'not met'})")


def failed(doc):
    """The validations that failed (not timed) and the errors while timing."""
    for r in doc["records"]:
        note = r.get("note") or ""
        if note.startswith("FAILED") or note.startswith("error while timing"):
            print(f"  FAILED  {r['name']} [{r['variant']}]: {note}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="the folder with gpu-check.json and step.json")
    ap.add_argument("check_exit", nargs="?", default="?", help="gpu-check's exit code")
    ap.add_argument("step_exit", nargs="?", default="?", help="bench step's exit code")
    ap.add_argument("attention_exit", nargs="?", default="?", help="bench attention's exit code")
    ap.add_argument("lora_exit", nargs="?", default="?", help="bench lora's exit code")
    args = ap.parse_args()
    out = pathlib.Path(args.out)

    check = load(out / "gpu-check.json")
    if check is not None:
        rows = check["primitives"] + check["training_step"] + ([check["peft"]] if check.get("peft") else [])
        counts = {}
        for r in rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        worst = max((r for r in check["primitives"] if r.get("max_relative_error") is not None), key=lambda r: r["max_relative_error"], default=None)
        print(f"gpu-check on {check['device']} ({check['backend']}): {'PASSED' if check['passed'] else 'NOT PASSED'} "
              f"(exit {args.check_exit}); " + ", ".join(f"{n} {s}" for s, n in counts.items()))
        if worst is not None:
            print(f"  worst primitive: {worst['check']} [{worst['variant']}] {worst['max_relative_error']:.2e} (tolerance {worst['tolerance']:.1e})")
        for r in rows:
            if r["status"] not in ("ok",):
                err = f" {r['max_relative_error']:.2e}" if r.get("max_relative_error") is not None else ""
                print(f"  {r['status']:<15} {r['check']} [{r['variant']}]{err} {r.get('detail') or ''}".rstrip())

    kernels(load(out / "attention.json"), args.attention_exit, load(out / "lora.json"), args.lora_exit)

    step = load(out / "step.json")
    if step is not None:
        print(f"bench step (exit {args.step_exit}) on {step['machine'].get('gpu') or 'no GPU named'}:")
        if not step["records"]:
            print("  no step was measured; see step.log")
            return
        print(f"  {'step':<18} {'ours tok/s':>11} {'peer tok/s':>11} {'ours/peer':>9} {'MFU':>6}")
        for r in step["records"]:
            peer, ratio, mfu = r.get("peer_value"), r.get("ratio"), r.get("fraction_of_peak")
            print(f"  {r['name']:<18} {r['value']:>11.0f} {'' if peer is None else f'{peer:.0f}':>11} "
                  f"{'' if ratio is None else f'{ratio:.2f}':>9} {'' if mfu is None else f'{100 * mfu:.1f}%':>6}")
            print(f"    {r.get('note', '')}")


if __name__ == "__main__":
    main()
