"""Executes the notebooks of notebooks/ through the Noyau Jupyter kernel, as Jupyter's "Run all" does.

Run through scripts/notebooks.sh, which provides .venv-jupyter's python and the kernelspec
"noyau"; jupyter/tests/python/test_notebooks.py imports `execute` from here. Each notebook runs
from a fresh kernel in a copy under a temporary folder (so the files it writes, such as the .npy
files crossing between Rhai and Rust cells, stay out of the repository); a cell error fails the
run. With --save the executed notebook, outputs included, replaces the original, so that its
figures show when the file is opened without running it.
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# The first Rust cell of a kernel starts evcxr and compiles noyau-engine: minutes on a small machine.
RUST_TIMEOUT = 1200
CELL_TIMEOUT = 300


def notebook_paths():
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def timeout_for(cell):
    return RUST_TIMEOUT if cell.source.lstrip().startswith("%%rust") else CELL_TIMEOUT


def is_progress(output):
    """Whether an output is the kernel's progress display of long work (its metadata says so):
    whether it appears depends on the machine's speed, so it is neither saved nor compared."""
    return output.get("metadata", {}).get("noyau", {}).get("progress", False)


def without_progress(nb):
    """The notebook with its progress displays removed."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not is_progress(o)]
    return nb


def execute(path):
    """The notebook at `path` executed by a fresh kernel, and the seconds it took; raises
    nbclient's CellExecutionError on the first failing cell."""
    with tempfile.TemporaryDirectory(prefix="noyau-notebook-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copy(path, copy)
        nb = nbformat.read(copy, as_version=4)
        client = NotebookClient(
            nb,
            kernel_name="noyau",
            timeout_func=timeout_for,
            # No timestamps in the saved cells, and one stream output per printed run of lines.
            record_timing=False,
            coalesce_streams=True,
            resources={"metadata": {"path": tmp}},
        )
        start = time.monotonic()
        client.execute()
        return nb, time.monotonic() - start


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="write each executed notebook back in place")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or notebook_paths()
    total = 0.0
    for path in paths:
        nb, seconds = execute(path)
        total += seconds
        if args.save:
            nbformat.write(without_progress(nb), path)
        saved = f", saved ({path.stat().st_size / 1e6:.2f} MB)" if args.save else ""
        print(f"{path.name}: {seconds:.1f} s{saved}", flush=True)
    print(f"{len(paths)} notebook(s) in {total:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
