#!/usr/bin/env bash
# Runs the Python tests of the Jupyter kernel (jupyter/tests/python) against the release binary
# already built (target/release/noyau; nothing is rebuilt here).
#
# The test packages live in .venv-jupyter/ (scripts/jupyter-venv.sh); the kernelspec is installed
# into a temporary prefix found through JUPYTER_PATH, and Jupyter's data and runtime folders are
# temporary too, so nothing outside the repository and /tmp is touched.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
noyau="$root/target/release/noyau"
if [ ! -x "$noyau" ]; then
    echo "error: $noyau is missing: build it first (cargo build --release -p noyau-jupyter)" >&2
    exit 1
fi
python="$(bash "$root/scripts/jupyter-venv.sh")"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/noyau-jupyter-tests.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
"$noyau" jupyter install --prefix "$tmp/prefix"
export JUPYTER_PATH="$tmp/prefix/share/jupyter"
export JUPYTER_DATA_DIR="$tmp/data" JUPYTER_RUNTIME_DIR="$tmp/runtime" JUPYTER_CONFIG_DIR="$tmp/config"
"$(dirname "$python")/jupyter-kernelspec" list | grep -q "^ *noyau " || {
    echo "error: the kernelspec is not visible to Jupyter" >&2
    exit 1
}
cd "$root/jupyter/tests/python"
export PYTHONDONTWRITEBYTECODE=1
exec "$python" -m pytest -v -p no:cacheprovider "$@" .
