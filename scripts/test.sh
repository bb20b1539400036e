#!/usr/bin/env bash
# Runs every test of Noyau on a fresh machine: builds once in release, then runs everything against that build.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== build (release, all targets)"
cargo build --release --workspace --all-targets

echo "== examples run"
cargo run --release -q -p noyau-engine --example convolution
cargo run --release -q -p noyau-engine --example bench -- --case gauss --n 20000 --reps 1

echo "== tests"
cargo test --release --workspace

# The GPU backend (feature `cuda`): its generated CUDA is compiled to PTX by NVRTC (from PyPI,
# no GPU needed) and run through a host emulation; the tests on a device skip without one.
echo "== NVRTC"
NOYAU_NVRTC_PATH="$(bash scripts/nvrtc.sh)"
export NOYAU_NVRTC_PATH
echo "$NOYAU_NVRTC_PATH"

echo "== tests of the GPU backend (--features cuda)"
cargo test --release -p noyau-engine --features cuda
