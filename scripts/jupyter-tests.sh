#!/usr/bin/env bash
# Runs the Python tests of the Jupyter kernel (jupyter/tests/python) against the release binary
# already built: the protocol suite, ipykernel's behaviours (stop_on_error, history, completion
# metadata), nbclient on kernel_tour.ipynb, every notebook of notebooks/ executed through the
# kernel (test_notebooks.py), and JupyterLab in headless Chromium (test_browser.py; Chromium is
# installed by scripts/chromium.sh when missing). Arguments go to pytest.
#
# The test packages live in .venv-jupyter/ (scripts/jupyter-venv.sh); jupyter-env.sh installs
# the kernelspec into a temporary prefix.
set -euo pipefail
source "$(dirname "$0")/jupyter-env.sh"
NOYAU_CHROMIUM="$(bash "$root/scripts/chromium.sh")"
export NOYAU_CHROMIUM
cd "$root/jupyter/tests/python"
# Not `exec`: the temporary prefix is removed when this shell exits.
"$python" -m pytest -v -p no:cacheprovider "$@" .
