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
