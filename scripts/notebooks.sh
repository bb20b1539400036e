#!/usr/bin/env bash
# Executes the notebooks of notebooks/ through the Noyau Jupyter kernel (nbclient, a fresh
# kernel each), failing on the first cell error; `--save` writes each executed notebook back in
# place with its outputs. Usage: bash scripts/notebooks.sh [--save] [NOTEBOOK.ipynb ...]
# (default: all). It uses the release binary already built (cargo build --release -p noyau-jupyter).
set -euo pipefail
source "$(dirname "$0")/jupyter-env.sh"
"$python" "$root/scripts/notebooks.py" "$@"
