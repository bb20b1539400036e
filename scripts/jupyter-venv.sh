#!/usr/bin/env bash
# Creates .venv-jupyter/ with the Python packages that test the Jupyter kernel, and prints its python.
#
# The kernel itself needs no Python; its tests drive it as Jupyter does: jupyter_kernel_test's
# protocol suite and nbclient running a notebook, over jupyter_client, and JupyterLab in a browser. The install is
# idempotent: a second run only prints the path. Usage: py="$(bash scripts/jupyter-venv.sh)".
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-jupyter"
# Pinned, so that a protocol test does not change under us; the marker records what is installed.
# JupyterLab and Playwright's Python API are for the browser test (Playwright drives Debian's
# Chromium; no browser is downloaded: `playwright install` is never run).
packages=(jupyter_kernel_test==0.7.0 jupyter_client==8.10.0 nbclient==0.11.0 nbformat==5.10.4 pytest==8.4.2
    jupyterlab==4.6.6 playwright==1.65.2)
marker="$venv/.installed"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$marker" 2>/dev/null)" != "${packages[*]}" ]; then
    echo "installing ${packages[*]} into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}" >&2
    echo "${packages[*]}" > "$marker"
fi
echo "$venv/bin/python"
