#!/usr/bin/env bash
# Runs every test of Noyau on a fresh machine: builds once in release (with the `cuda` feature,
# so the GPU backend is built and checked too), then runs everything against that build.
set -euo pipefail
cd "$(dirname "$0")/.."

# The GPU backend's generated CUDA is compiled to PTX by NVRTC (from PyPI: no GPU, no CUDA
# toolkit needed) and run through a host emulation; the tests on a device skip without one.
echo "== NVRTC"
NOYAU_NVRTC_PATH="$(bash scripts/nvrtc.sh)"
export NOYAU_NVRTC_PATH
echo "$NOYAU_NVRTC_PATH"

FEATURES=(--features noyau-engine/cuda)

# Rust cells compile noyau-engine with evcxr: the runs that do it (the CLI test, notebook 07
# headless, then through the kernel) share one build folder, so the engine is compiled once.
export NOYAU_RUST_CELLS_DIR="$PWD/target/rust-cells"

echo "== format and lints"
cargo fmt --all --check
cargo clippy --release --workspace --all-targets "${FEATURES[@]}" -- -D warnings

echo "== build (release, all targets)"
cargo build --release --workspace --all-targets "${FEATURES[@]}"

echo "== examples run"
# The README's main command: the first notebook, headless (its figure, beside it, is git-ignored).
cargo run --release -q -p noyau-jupyter "${FEATURES[@]}" -- run notebooks/01-convolution-gaussienne.ipynb
cargo run --release -q -p noyau-engine "${FEATURES[@]}" --example convolution
cargo run --release -q -p noyau-engine "${FEATURES[@]}" --example bench -- --case gauss --n 20000 --reps 1

echo "== tests"
# The fuzzing harness (tests/tests/fuzz.rs) runs for this many seconds in all.
NOYAU_FUZZ_SECONDS="${NOYAU_FUZZ_SECONDS:-90}" cargo test --release --workspace "${FEATURES[@]}"

# The Jupyter kernel as Jupyter drives it (protocol suite, nbclient on kernel_tour.ipynb and on
# every notebook of notebooks/), against the binary built above.
echo "== jupyter kernel (Python)"
bash scripts/jupyter-tests.sh
