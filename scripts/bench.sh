#!/usr/bin/env bash
# Runs every CPU benchmark case and, in the same run, the reference bench's hand-vectorised C loop
# (../shared/reference/anchor-bench/limit.c), printing each case's G pairs/s and its ratio to the
# C loop (measured just before and just after the cases, the mean of both taken: these machines
# are shared and drift).
# Usage: bash scripts/bench.sh [N]   (default N = M = 100000, D = 3, float32 unless stated)
#        bash scripts/bench.sh --vs-pykeops [N]   (default N = M = 30000): pykeops 2.3 on the CPU
#        against our CPU backend, case by case on the same inputs, in one table.
set -euo pipefail
cd "$(dirname "$0")/.."
VS_PYKEOPS=""
if [ "${1:-}" = "--vs-pykeops" ]; then VS_PYKEOPS=1; shift; fi
N=${1:-$([ -n "$VS_PYKEOPS" ] && echo 30000 || echo 100000)}
cargo build --release -q -p noyau-engine --example bench
B=target/release/examples/bench
if [ -n "$VS_PYKEOPS" ]; then
  # numpy and pykeops only: pykeops.numpy spares torch's multi-GB download.
  VENV=target/venv-pykeops
  # Checked by pip's record rather than by the folder, so that an interrupted install is redone.
  if ! "$VENV/bin/python" -m pip show -q pykeops >/dev/null 2>&1; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q numpy pykeops==2.3
  fi
  # Both sides get every core and say so: pykeops through OpenMP, ours through rayon.
  export OMP_NUM_THREADS=$(nproc) RAYON_NUM_THREADS=$(nproc)
  echo "$(date -Is) nproc $(nproc), load average before: $(uptime | sed 's/.*load average: //')"
  DIR=$(mktemp -d)
  trap 'rm -rf "$DIR"' EXIT
  # Case by case, ours then pykeops on the inputs ours saved, so that drift on these shared
  # machines touches both sides of a ratio alike.
  for c in gauss lse argkmin cauchy; do
    "$B" --case "$c" --n "$N" --reps 2 --save "$DIR" | tee -a "$DIR/lines"
    "$VENV/bin/python" scripts/bench_pykeops.py run --case "$c" --dir "$DIR" --reps 2 | tee -a "$DIR/lines"
  done
  echo "load average after: $(uptime | sed 's/.*load average: //')"
  "$VENV/bin/python" scripts/bench_pykeops.py table "$DIR/lines"
  exit 0
fi
LIMIT=../shared/reference/anchor-bench/limit.c
c_rate() { OMP_NUM_THREADS=$(nproc) target/limit "$N" | sed -E 's/.* ([0-9.]+) Gpairs\/s.*/\1/'; }
C0=""
if [ -f "$LIMIT" ] && command -v gcc >/dev/null; then
  gcc -O3 -march=native -ffast-math -fopenmp "$LIMIT" -o target/limit -lm
  C0=$(c_rate)
fi
OUT=$(mktemp)
run() { "$B" "$@" | tee -a "$OUT"; }
for c in gauss gauss_e3 lse argkmin cauchy; do run --case "$c" --n "$N" --reps 2; done
run --case gauss --n "$N" --dtype f64 --reps 2
run --case gauss_grad --n "$N" --reps 1
if [ -n "$C0" ]; then
  C1=$(c_rate)
  echo "hand-vectorised C loop (gauss f32): $C0 then $C1 G pairs/s"
  python3 - "$OUT" "$C0" "$C1" <<'PY'
import json, sys
c = (float(sys.argv[2]) + float(sys.argv[3])) / 2
print(f"{'case':<12}{'dtype':<6}{'G pairs/s':>10}{'× C loop':>10}")
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"{r['case']:<12}{r['dtype']:<6}{r['gpairs_per_s']:>10.3f}{r['gpairs_per_s'] / c:>10.2f}")
PY
fi
rm -f "$OUT"
# The Sinkhorn divergence and its gradient (GeomLoss's setting: 2-D, p = 2, blur 0.01, scaling 0.9)
# at a fixed size, since its cost is about 200 reductions of N·M pairs.
"$B" --case sinkhorn --n 5000 --dim 2 --reps 2
