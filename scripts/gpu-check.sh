#!/usr/bin/env bash
# The one command for an NVIDIA GPU machine (../shared/GPU.md), which has no .NET: `./build.sh gpu-check`.
# Needs .dev/bench.tgz from `./build.sh publish-bench` on the CPU machine (it travels with the working tree;
# the bundle holds bench/peer/* too: the peer scripts and configs/llama2-7b.json). In one go:
#   1. bench gpu-check: every primitive against the CPU backend (max relative errors, device µs), a tiny
#      training step on the GPU vs the CPU, and PEFT loading an adapter the GPU trained;
#   2. bench step --device cuda:0 on llama2-7b at T = $GPU_CHECK_SEQ (default 8192): LoRA r=8 on q,k,v,o,
#      embedding and norms trained, S2-Attn, gradient checkpointing, bf16 — alternating with Hugging Face
#      transformers + PEFT on the same shape (bench/peer/hf_step_peer.py): tokens/s, peak memory, MFU;
#   3. a short table of both, printed last.
# Everything lands under $OUT (default .dev/gpu-out): JSON, logs, nvidia-smi. Exit 0 only if both passed.
# $RAWLORA_PYTHON picks the Python with torch, transformers and peft (default: python3).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-$PWD/.dev/gpu-out}"
seq="${GPU_CHECK_SEQ:-8192}"
bundle="${GPU_CHECK_BUNDLE:-.dev/bench.tgz}"
if [ ! -f "$bundle" ]; then
    echo "gpu-check: $bundle is missing; run ./build.sh publish-bench on the CPU machine and bring the working tree along" >&2
    exit 2
fi
mkdir -p "$out"
dir=$(mktemp -d)
tar xzf "$bundle" -C "$dir"
bench="$dir/bench/bench"
(nvidia-smi; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv) > "$out/nvidia-smi.txt" 2>&1

echo "== 1/2 bench gpu-check"
timeout "${GPU_CHECK_TIMEOUT:-180}" "$bench" gpu-check --out "$out" 2>&1 | tee "$out/gpu-check.log"
check=${PIPESTATUS[0]}

echo "== 2/2 bench step --device cuda:0, llama2-7b, T = $seq, bf16, vs transformers + PEFT"
timeout "${GPU_STEP_TIMEOUT:-300}" "$bench" step --device cuda:0 --config "$dir/bench/peer/configs/llama2-7b.json" --seq "$seq" \
    --steps 2 --long 0 --precision bf16 --json "$out/step.json" 2>&1 | tee "$out/step.log"
step=${PIPESTATUS[0]}

echo "== summary (figures in $out)"
python3 "$dir/bench/peer/gpu_check_summary.py" "$out" "$check" "$step"
[ "$check" = 0 ] && [ "$step" = 0 ]
