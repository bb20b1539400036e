"""The kernel in a real JupyterLab, driven in headless Chromium by Playwright, as a person uses it.

JupyterLab serves a temporary folder on a free port with the kernelspec of scripts/jupyter-env.sh;
the browser is Debian's Chromium (NOYAU_CHROMIUM, set by scripts/jupyter-tests.sh, which installs
it when missing); Playwright never downloads a browser of its own. Checked:
- notebook 01, Run All: every cell runs, no error output, the figure is rendered;
- a new notebook: the completion popup after `x.` + Tab lists the tensor's methods; the toolbar's
  stop button interrupts a long loop and the variables survive; Run All stops at a failing cell.
A failing test leaves a screenshot of the page in target/browser-test/ (every test does with
NOYAU_SCREENSHOTS=1).
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "target" / "browser-test"
NOTEBOOK_01 = ROOT / "notebooks" / "01-convolution-gaussienne.ipynb"
# Notebook 01 computes a 30 000-point reduction and a dense 3000×3000 one: minutes on a slow machine.
RUN_ALL_TIMEOUT_MS = 600_000
STEP_TIMEOUT_MS = 60_000
# Chromium as root in a container without network (the flags Playwright's own launch lacks).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_notebook(path, cells):
    """Writes a notebook on the Noyau kernel with these code cells (not yet run)."""
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "noyau", "display_name": "Noyau (Rhai)", "language": "rhai"}},
        "cells": [
            {"cell_type": "code", "id": f"cell{k}", "metadata": {}, "source": src, "outputs": [], "execution_count": None}
            for k, src in enumerate(cells)
        ],
    }
    path.write_text(json.dumps(nb), encoding="utf-8")


@pytest.fixture(scope="module")
def lab():
    """A JupyterLab server on a temporary folder: (base URL with token, folder)."""
    chromium = os.environ.get("NOYAU_CHROMIUM", "")
    assert chromium and os.access(chromium, os.X_OK), "NOYAU_CHROMIUM must name Chromium (scripts/chromium.sh installs it)"
    tmp = Path(tempfile.mkdtemp(prefix="noyau-lab-"))
    root = tmp / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK_01, root / NOTEBOOK_01.name)
    # No news or update checks (the machine has no network), no announcements popping up.
    settings = tmp / "settings"
    settings.mkdir()
    # Every cell in the page (no windowing), and the notebook's own kernel started without asking.
    (settings / "overrides.json").write_text(
        json.dumps(
            {
                "@jupyterlab/apputils-extension:notification": {"checkForUpdates": False, "fetchNews": "false"},
                "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none", "autoStartDefaultKernel": True},
            }
        )
    )
    port, token = free_port(), "noyau-browser-test"
    log = open(tmp / "lab.log", "w")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
            # CI runs as root; no extension manager asking PyPI for extensions.
            "--allow-root", "--LabApp.extension_manager=readonly",
            # window.jupyterapp, through which the test reads the notebook's model.
            "--LabApp.expose_app_in_browser=True",
            f"--LabServerApp.app_settings_dir={settings}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
            break
        except OSError:
            assert server.poll() is None, (tmp / "lab.log").read_text()
            assert time.monotonic() < deadline, "JupyterLab did not start:\n" + (tmp / "lab.log").read_text()
            time.sleep(0.5)
    try:
        yield base, token, root, chromium
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def page(lab, request):
    """A fresh browser page; a screenshot is saved when the test fails."""
    base, token, root, chromium = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        # A fresh profile for every page (Playwright's launch uses a new temporary one).
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        pg.set_default_timeout(STEP_TIMEOUT_MS)
        pg.lab = (base, token, root)
        try:
            yield pg
        finally:
            # NOYAU_SCREENSHOTS=1 keeps them for passing tests too (to look at the page).
            if getattr(request.node, "failed", False) or os.environ.get("NOYAU_SCREENSHOTS"):
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                shot = SCREENSHOTS / f"{request.node.name}.png"
                pg.screenshot(path=str(shot), full_page=True)
                print(f"screenshot: {shot}")
            browser.close()


def open_notebook(page, name):
    base, token, _ = page.lab
    # `reset`: a fresh workspace, not the tabs that an earlier test left open.
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}")
    # The notebook is shown and its kernel (Noyau) has started and is idle.
    expect(page.locator(".jp-NotebookPanel").filter(visible=True)).to_have_count(1)
    page.wait_for_function(
        """() => {
            const nb = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const kernel = nb && nb.sessionContext && nb.sessionContext.session && nb.sessionContext.session.kernel;
            return kernel && kernel.name === 'noyau' && kernel.status === 'idle';
        }""",
        timeout=STEP_TIMEOUT_MS,
    )


def run_all(page):
    """Run > Run All Cells, from the menu bar."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


# The code cells of the current notebook, from its model: execution count, state and outputs.
CELLS_JS = """() => {
    const nb = window.jupyterapp.shell.currentWidget;
    return [...nb.content.model.cells].filter(c => c.type === 'code').map(c => ({
        count: c.executionCount,
        running: c.executionState === 'running',
        outputs: c.outputs.toJSON(),
    }));
}"""


def cells(page):
    return page.evaluate(CELLS_JS)


def wait_until_done(page, timeout, last_run):
    """Waits until code cell `last_run` has run (or been skipped, for an aborted one: no cell
    running, the kernel idle and nothing queued)."""
    page.wait_for_function(
        """([k]) => {
            const nb = window.jupyterapp.shell.currentWidget;
            const code = [...nb.content.model.cells].filter(c => c.type === 'code');
            const kernel = nb.sessionContext.session.kernel;
            const prompts = [...nb.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            return code[k].executionCount !== null && code.every(c => c.executionState !== 'running')
                && kernel.status === 'idle' && prompts.every(p => !p.textContent.includes('*'));
        }""",
        arg=[last_run],
        timeout=timeout,
    )


def code_error_names(page):
    """The names of the error outputs in the notebook's model."""
    return [o["ename"] for c in cells(page) for o in c["outputs"] if o["output_type"] == "error"]


def code_cells(page):
    """The code cells of the notebook shown (other tabs are hidden)."""
    return page.locator(".jp-NotebookPanel").filter(visible=True).locator(".jp-CodeCell")


def prompts(page):
    return [p.strip() for p in code_cells(page).locator(".jp-InputPrompt").all_inner_texts()]


def cell_editor(page, k):
    return code_cells(page).nth(k).locator(".cm-content")


def test_notebook_01_runs_all_without_errors_and_shows_its_figure(page):
    open_notebook(page, NOTEBOOK_01.name)
    # Clear the saved outputs first, so that what is checked is what this run produced.
    page.locator(".lm-MenuBar-itemLabel", has_text="Edit").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Clear Outputs of All Cells").first.click()
    expect(page.locator(".jp-RenderedImage img")).to_have_count(0)
    run_all(page)
    code = cells(page)
    wait_until_done(page, RUN_ALL_TIMEOUT_MS, len(code) - 1)
    code = cells(page)
    # Every cell ran, in order, without an error output (nor stderr: notebook 01 writes none).
    assert [c["count"] for c in code] == list(range(1, len(code) + 1)), [c["count"] for c in code]
    bad = [o for c in code for o in c["outputs"] if o["output_type"] == "error" or o.get("name") == "stderr"]
    assert not bad, bad
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.all_inner_texts()
    # The figure is drawn: an image that has loaded, with a real size.
    image = page.locator(".jp-RenderedImage img").last
    expect(image).to_be_visible()
    width = image.evaluate("img => img.complete ? img.naturalWidth : 0")
    assert width >= 600, width
    # The formula is typeset (MathJax) from the kernel's LaTeX.
    formula = page.locator(".jp-RenderedLatex mjx-container").first
    formula.scroll_into_view_if_needed()
    expect(formula).to_be_visible()
    if os.environ.get("NOYAU_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        formula.screenshot(path=str(SCREENSHOTS / "formula.png"))


def test_a_new_notebook_completes_interrupts_and_stops_run_all_at_an_error(page):
    _, _, root = page.lab
    new_notebook(
        root / "nouveau.ipynb",
        [
            "let x = randn(4, 2);\nlet kept = 42;",
            "",
            "let n = 0;\nloop { n += 1; }",
            "kept + 1",
        ],
    )
    open_notebook(page, "nouveau.ipynb")
    # Run the first cell, then type `x.` in the second and press Tab: the completer pops up
    # with the tensor's methods.
    cell_editor(page, 0).click()
    page.keyboard.press("Shift+Enter")
    expect(code_cells(page).nth(0).locator(".jp-InputPrompt")).to_have_text("[1]:")
    cell_editor(page, 1).click()
    page.keyboard.type("x.")
    page.keyboard.press("Tab")
    completer = page.locator(".jp-Completer")
    expect(completer).to_be_visible()
    items = completer.locator(".jp-Completer-item .jp-Completer-match").all_inner_texts()
    assert "sum" in items and "shape" in items, items
    assert "randn" not in items, items
    page.keyboard.press("Escape")
    # A long loop, stopped from the toolbar's stop button: the kernel survives with its variables.
    cell_editor(page, 2).click()
    page.keyboard.press("Shift+Enter")
    expect(code_cells(page).nth(2).locator(".jp-InputPrompt")).to_have_text("[*]:")
    time.sleep(1)
    page.locator("jp-button[data-command='notebook:interrupt-kernel'], button[data-command='notebook:interrupt-kernel']").first.click()
    expect(code_cells(page).nth(2).locator(".jp-OutputArea-output")).to_contain_text(re.compile("interrupted", re.I))
    cell_editor(page, 3).click()
    page.keyboard.press("Shift+Enter")
    expect(code_cells(page).nth(3).locator(".jp-OutputArea-output")).to_have_text("43")


def test_run_all_stops_at_the_first_failing_cell(page):
    _, _, root = page.lab
    new_notebook(
        root / "erreur.ipynb",
        ['print("first");', "let bad = ones(2, 3).sum(9);", 'print("never printed");'],
    )
    open_notebook(page, "erreur.ipynb")
    run_all(page)
    wait_until_done(page, STEP_TIMEOUT_MS, 1)
    shown = code_cells(page)
    expect(shown.nth(0).locator(".jp-OutputArea-output")).to_have_text("first")
    expect(shown.nth(1).locator(".jp-OutputArea-output")).to_contain_text("sum(dim=9)")
    assert code_error_names(page) == ["ScriptError"]
    # The cell after the error was aborted: it never ran, so no output and no execution count.
    code = cells(page)
    assert [c["count"] for c in code] == [1, 2, None], code
    assert code[2]["outputs"] == [], code[2]
    expect(shown.nth(2).locator(".jp-OutputArea-output")).to_have_count(0)
    assert prompts(page)[2] in ("[ ]:", ""), prompts(page)
