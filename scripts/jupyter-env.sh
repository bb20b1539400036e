#!/usr/bin/env bash
# Sourced by the scripts that drive the Noyau kernel from Python (jupyter-tests.sh, notebooks.sh):
# sets `python` to .venv-jupyter's python and makes the kernelspec "noyau" of the release binary
# already built (target/release/noyau; nothing is rebuilt here) visible to Jupyter.
#
# The kernelspec is installed into a temporary prefix found through JUPYTER_PATH, and Jupyter's
# data, runtime and config folders are temporary too, so nothing outside the repository and /tmp
# is touched (the kernels' history included); the folder is removed when the sourcing script exits.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# NOYAU_BIN overrides the binary (a debug build while developing, say).
noyau="${NOYAU_BIN:-$root/target/release/noyau}"
if [ ! -x "$noyau" ]; then
    echo "error: $noyau is missing: build it first (cargo build --release -p noyau-jupyter)" >&2
    exit 1
fi
python="$(bash "$root/scripts/jupyter-venv.sh")"
jupyter_tmp="$(mktemp -d "${TMPDIR:-/tmp}/noyau-jupyter.XXXXXX")"
trap 'rm -rf "$jupyter_tmp"' EXIT
"$noyau" jupyter install --prefix "$jupyter_tmp/prefix" >&2
export JUPYTER_PATH="$jupyter_tmp/prefix/share/jupyter"
export JUPYTER_DATA_DIR="$jupyter_tmp/data" JUPYTER_RUNTIME_DIR="$jupyter_tmp/runtime" JUPYTER_CONFIG_DIR="$jupyter_tmp/config"
"$(dirname "$python")/jupyter-kernelspec" list | grep -q "^ *noyau " || {
    echo "error: the kernelspec is not visible to Jupyter" >&2
    exit 1
}
# The kernels' input history goes to the temporary folder too, not to the user's.
export NOYAU_HISTORY="$jupyter_tmp/history.jsonl"
export PYTHONDONTWRITEBYTECODE=1
