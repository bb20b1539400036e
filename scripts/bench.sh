#!/usr/bin/env bash
# Runs every CPU benchmark case and, in the same run, the reference bench's hand-vectorised C loop
# (../shared/reference/anchor-bench/limit.c), so that figures are compared side by side.
# Usage: bash scripts/bench.sh [N]   (default N = M = 100000, D = 3, float32 unless stated)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
cargo build --release -q -p noyau-engine --example bench
B=target/release/examples/bench
for c in gauss gauss_e3 lse argkmin cauchy; do "$B" --case "$c" --n "$N" --reps 2; done
"$B" --case gauss --n "$N" --dtype f64 --reps 2
# The Sinkhorn divergence and its gradient (GeomLoss's setting: 2-D, p = 2, blur 0.01, scaling 0.9)
# at a fixed size, since its cost is about 200 reductions of N·M pairs.
"$B" --case sinkhorn --n 5000 --dim 2 --reps 2
LIMIT=../shared/reference/anchor-bench/limit.c
if [ -f "$LIMIT" ] && command -v gcc >/dev/null; then
  gcc -O3 -march=native -ffast-math -fopenmp "$LIMIT" -o target/limit -lm
  echo "hand-vectorised C loop (gauss f32): $(OMP_NUM_THREADS=$(nproc) target/limit "$N")"
fi
