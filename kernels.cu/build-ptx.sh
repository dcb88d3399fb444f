#!/usr/bin/env bash
# kernels.cu/*.cu → PTX for sm_80 and sm_90, one file each: <name>.sm_80.ptx, <name>.sm_90.ptx in the folder given
# (default kernels.cu/ptx, the committed copies the Kernels assembly embeds). The one place the device build's flags
# live: `./build.sh kernels` runs it, and the freshness test runs it into a scratch folder and compares.
# Debian's nvcc 11.8 takes no host compiler newer than gcc 11, hence clang-14 (see ../shared/GPU.md).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/ptx}"
mkdir -p "$out"
for source in "$here"/*.cu; do
    name="$(basename "$source" .cu)"
    for sm in 80 90; do
        nvcc -ccbin clang-14 -std=c++17 -O3 -arch="sm_$sm" --ptx -I "$here" "$source" -o "$out/$name.sm_$sm.ptx"
    done
done
