#!/usr/bin/env bash
# The one command for an NVIDIA GPU machine (../shared/GPU.md), which has no .NET: `./build.sh gpu-check`.
# Needs .dev/bench.tgz from `./build.sh publish-bench` on the CPU machine (it travels with the working tree;
# the bundle holds bench/peer/* too: the peer scripts and configs/llama2-7b.json). In one go (about 14 minutes at most,
# each step bounded by its timeout; GPU_SANITIZER=0 saves the last 3):
#   1. bench gpu-check: every primitive against the CPU backend (max relative errors, device µs), a tiny
#      training step on the GPU vs the CPU, and PEFT loading an adapter the GPU trained;
#   2. bench attention --device cuda:0 --variant all: every attention variant (ILGPU, kernels.cu) validated against
#      the CPU reference, then fwd and fwd+bwd TFLOP/s by CUDA events, causal and S2-Attn, d128 and d64, T = 16K and
#      4K, beside PyTorch's SDPA (bench/peer/attention_sdpa_peer.py); at most $GPU_ATTENTION_SECONDS s of timing;
#   3. bench lora --device cuda:0 --variant all: the LoRA projection at Llama-2-7B's q_proj shape (r = 8, 16), its
#      time over the plain cuBLAS projection's; at most $GPU_LORA_SECONDS s of timing;
#   4. bench step --device cuda:0 on llama2-7b at T = $GPU_CHECK_SEQ (default 8192): LoRA r=8 on q,k,v,o,
#      embedding and norms trained, S2-Attn, gradient checkpointing, bf16 — alternating with Hugging Face
#      transformers + PEFT on the same shape (bench/peer/hf_step_peer.py): tokens/s, peak memory, MFU;
#   5. a short table of them all;
#   6. compute-sanitizer's racecheck and memcheck over the kernels.cu kernels (and the ILGPU ones beside them) as the
#      two kernel benches validate them on small shapes — races and bad accesses the host emulation cannot see;
#      $GPU_SANITIZER_TIMEOUT s each (default 45; 3 minutes at most in all), GPU_SANITIZER=0 skips it.
# Everything lands under $OUT (default .dev/gpu-out): JSON, logs, nvidia-smi. Exit 0 only if all passed.
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

echo "== 1/4 bench gpu-check"
timeout "${GPU_CHECK_TIMEOUT:-180}" "$bench" gpu-check --out "$out" 2>&1 | tee "$out/gpu-check.log"
check=${PIPESTATUS[0]}

# The kernel benches stop timing at --max-seconds and still write their JSON; timeout is the backstop. Together at
# most about 3 minutes (startup, validation and the peer's start come on top of the timing).
attention_seconds="${GPU_ATTENTION_SECONDS:-90}"
echo "== 2/4 bench attention --device cuda:0 --variant all (at most $attention_seconds s of timing)"
timeout $((attention_seconds + 45)) "$bench" attention --device cuda:0 --variant all --seq 16384,4096 --head-dim 128,64 \
    --max-seconds "$attention_seconds" --json "$out/attention.json" 2>&1 | tee "$out/attention.log"
attention=${PIPESTATUS[0]}

lora_seconds="${GPU_LORA_SECONDS:-25}"
echo "== 3/4 bench lora --device cuda:0 --variant all (at most $lora_seconds s of timing)"
timeout $((lora_seconds + 35)) "$bench" lora --device cuda:0 --variant all --max-seconds "$lora_seconds" --json "$out/lora.json" 2>&1 | tee "$out/lora.log"
lora=${PIPESTATUS[0]}

echo "== 4/4 bench step --device cuda:0, llama2-7b, T = $seq, bf16, vs transformers + PEFT"
timeout "${GPU_STEP_TIMEOUT:-300}" "$bench" step --device cuda:0 --config "$dir/bench/peer/configs/llama2-7b.json" --seq "$seq" \
    --steps 2 --long 0 --precision bf16 --json "$out/step.json" 2>&1 | tee "$out/step.log"
step=${PIPESTATUS[0]}

echo "== summary (figures in $out)"
python3 "$dir/bench/peer/gpu_check_summary.py" "$out" "$check" "$step" "$attention" "$lora"

# --max-seconds this small stops every variant's timing after its validation: each kernel runs a few times, on a
# small problem, under the tool.
sanitized=0
sanitizer="$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)"
if [ "${GPU_SANITIZER:-1}" != 0 ]; then
    : > "$out/sanitizer.txt"
    for tool in racecheck memcheck; do
        for verb in "attention --seq 256 --head-dim 64,128 --no-peer" "lora --quick"; do
            echo "== compute-sanitizer --tool $tool: bench $verb"
            # shellcheck disable=SC2086
            timeout "${GPU_SANITIZER_TIMEOUT:-45}" "$sanitizer" --tool "$tool" --error-exitcode 99 \
                "$bench" $verb --device cuda:0 --variant all --max-seconds 0.001 > "$out/sanitizer-$tool-${verb%% *}.log" 2>&1
            rc=$?
            tail -n 3 "$out/sanitizer-$tool-${verb%% *}.log"
            echo "$tool ${verb%% *}: exit $rc$([ $rc = 0 ] && echo ' (clean)' || echo ' (see the log)')" | tee -a "$out/sanitizer.txt"
            [ $rc = 0 ] || sanitized=1
        done
    done
fi
[ "$check" = 0 ] && [ "$attention" = 0 ] && [ "$lora" = 0 ] && [ "$step" = 0 ] && [ "$sanitized" = 0 ]
