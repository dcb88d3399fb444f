#!/usr/bin/env python3
"""The short table scripts/gpu-check.sh prints last: gpu-check's verdict and its rows that did not pass, then
bench step's tokens/s, MFU and ratio to transformers + PEFT. Reads OUT/gpu-check.json and OUT/step.json;
a missing file (a run that timed out or crashed) is a line saying so. Standard library only."""
import argparse
import json
import pathlib


def load(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        print(f"  {path.name}: not there or not JSON ({e.__class__.__name__}); see the log beside it")
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="the folder with gpu-check.json and step.json")
    ap.add_argument("check_exit", nargs="?", default="?", help="gpu-check's exit code")
    ap.add_argument("step_exit", nargs="?", default="?", help="bench step's exit code")
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
