"""Every notebook of notebooks/ executed through the kernel by nbclient, and its saved outputs current."""

import json

import notebooks  # scripts/notebooks.py, through conftest.py
import pytest


def kinds(cell):
    """What a cell shows, as a set: stream names, output types with their MIME types, error names
    (a set, so that the interleaving of stdout and stderr does not matter). Progress displays,
    which appear only on a slow enough machine, are left out."""
    found = set()
    for o in cell.get("outputs", []):
        if notebooks.is_progress(o):
            continue
        if o["output_type"] == "stream":
            found.add(("stream", o["name"]))
        elif o["output_type"] == "error":
            found.add(("error", o["ename"]))
        else:
            found.update((o["output_type"], mime) for mime in o["data"])
    return found


@pytest.mark.parametrize("path", notebooks.notebook_paths(), ids=lambda p: p.name)
def test_the_notebook_runs_and_its_saved_outputs_are_current(path):
    # nbclient raises on the first cell error (assert_close failures included).
    executed, seconds = notebooks.execute(path)
    print(f"{path.name}: {seconds:.1f} s")
    saved = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in saved["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), f"{path.name}: save it executed (bash scripts/notebooks.sh --save)"
    fresh = [c for c in executed.cells if c.cell_type == "code"]
    assert len(fresh) == len(code)
    for k, (old, new) in enumerate(zip(code, fresh)):
        assert kinds(old) == kinds(new), f"{path.name}: code cell {k + 1}: the saved outputs are stale (bash scripts/notebooks.sh --save)"
    assert any(("display_data", "image/png") in kinds(c) for c in fresh), f"{path.name} shows no figure"
