#!/usr/bin/env bash
# Runs the Python tests of the Jupyter kernel (jupyter/tests/python) against the release binary
# already built: the protocol suite, nbclient on kernel_tour.ipynb, and every notebook of
# notebooks/ executed through the kernel (test_notebooks.py). Arguments go to pytest.
#
# The test packages live in .venv-jupyter/ (scripts/jupyter-venv.sh); jupyter-env.sh installs
# the kernelspec into a temporary prefix.
set -euo pipefail
source "$(dirname "$0")/jupyter-env.sh"
cd "$root/jupyter/tests/python"
# Not `exec`: the temporary prefix is removed when this shell exits.
"$python" -m pytest -v -p no:cacheprovider "$@" .
