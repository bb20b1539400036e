#!/usr/bin/env bash
# Installs NVIDIA's NVRTC (the CUDA runtime compiler, from PyPI) into .venv-nvrtc/ and prints its library folder.
#
# The GPU backend compiles its generated CUDA with NVRTC; the tests compile every operation and
# every reduction to PTX with it, which needs no GPU and no driver. The install is idempotent: a
# second run only prints the folder. Usage: export NOYAU_NVRTC_PATH="$(scripts/nvrtc.sh)".
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="$root/.venv-nvrtc"
# The CUDA 12 series: its PTX loads on every driver from 525 on, and cudarc's bindings are built for it.
spec="${NOYAU_NVRTC_PIP_SPEC:-nvidia-cuda-nvrtc-cu12==12.9.86}"
lib="$target/nvidia/cuda_nvrtc/lib"
if ! ls "$lib"/libnvrtc.so.* >/dev/null 2>&1; then
    echo "installing $spec into $target" >&2
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$target" "$spec" >&2
fi
if ! ls "$lib"/libnvrtc.so.* >/dev/null 2>&1; then
    echo "error: $spec installed but $lib has no libnvrtc.so" >&2
    exit 1
fi
echo "$lib"
