"""The kernel in a real JupyterLab, driven in headless Chromium by Playwright, as a person uses it.

JupyterLab serves a temporary folder on a free port with the kernelspec of scripts/jupyter-env.sh;
the browser is Debian's Chromium (NOYAU_CHROMIUM, set by scripts/jupyter-tests.sh, which installs
it when missing); Playwright never downloads a browser of its own. Checked:
- notebook 01, Run All: every cell runs, no error output, the figure is rendered;
- a new notebook: the completion popup after `x.` + Tab lists the tensor's methods; the toolbar's
  stop button interrupts a long loop and the variables survive; Run All stops at a failing cell.
A failing test leaves a screenshot of the page in target/browser-test/.
"""

import json
import os
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
    (settings / "overrides.json").write_text(
        json.dumps({"@jupyterlab/apputils-extension:notification": {"checkForUpdates": False, "fetchNews": "false"}})
    )
    port, token = free_port(), "noyau-browser-test"
    log = open(tmp / "lab.log", "w")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
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
            if getattr(request.node, "failed", False):
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                shot = SCREENSHOTS / f"{request.node.name}.png"
                pg.screenshot(path=str(shot), full_page=True)
                print(f"screenshot: {shot}")
            browser.close()


def open_notebook(page, name):
    base, token, _ = page.lab
    page.goto(f"{base}/lab/tree/{name}?token={token}")
    # The notebook is shown and its kernel (Noyau) is idle.
    expect(page.locator(".jp-Notebook")).to_be_visible()
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1, timeout=STEP_TIMEOUT_MS)


def run_all(page):
    """Run > Run All Cells, from the menu bar."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def wait_until_done(page, timeout):
    """Waits until no cell is running or queued ([*]) and the kernel is idle."""
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            return prompts.length > 0 && prompts.every(p => !p.textContent.includes('*'));
        }""",
        timeout=timeout,
    )
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1, timeout=timeout)


def prompts(page):
    return [p.strip() for p in page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()]


def cell_editor(page, k):
    return page.locator(".jp-CodeCell").nth(k).locator(".cm-content")


def test_notebook_01_runs_all_without_errors_and_shows_its_figure(page):
    open_notebook(page, NOTEBOOK_01.name)
    # Clear the saved outputs first, so that what is checked is what this run produced.
    page.locator(".lm-MenuBar-itemLabel", has_text="Edit").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Clear Outputs of All Cells").first.click()
    expect(page.locator(".jp-RenderedImage img")).to_have_count(0)
    run_all(page)
    wait_until_done(page, RUN_ALL_TIMEOUT_MS)
    numbers = prompts(page)
    assert all(p.startswith("[") and p[1:-2].strip().isdigit() for p in numbers), numbers
    # No error output (errors and stderr both render as this MIME type; notebook 01 writes neither).
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.all_inner_texts()
    # The figure is drawn: an image that has loaded, with a real size.
    image = page.locator(".jp-RenderedImage img").last
    expect(image).to_be_visible()
    width = image.evaluate("img => img.complete ? img.naturalWidth : 0")
    assert width >= 600, width
    # The formula is typeset (MathJax) from the kernel's LaTeX.
    expect(page.locator(".jp-RenderedLatex mjx-container").first).to_be_visible()


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
    expect(page.locator(".jp-CodeCell").nth(0).locator(".jp-InputPrompt")).to_have_text("[1]:")
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
    expect(page.locator(".jp-CodeCell").nth(2).locator(".jp-InputPrompt")).to_have_text("[*]:")
    time.sleep(1)
    page.locator("jp-button[data-command='notebook:interrupt-kernel'], button[data-command='notebook:interrupt-kernel']").first.click()
    expect(page.locator(".jp-CodeCell").nth(2).locator(".jp-OutputArea-output")).to_contain_text("Interrupted")
    cell_editor(page, 3).click()
    page.keyboard.press("Shift+Enter")
    expect(page.locator(".jp-CodeCell").nth(3).locator(".jp-OutputArea-output")).to_have_text("43")


def test_run_all_stops_at_the_first_failing_cell(page):
    _, _, root = page.lab
    new_notebook(
        root / "erreur.ipynb",
        ['print("first");', "let bad = ones(2, 3).sum(9);", 'print("never printed");'],
    )
    open_notebook(page, "erreur.ipynb")
    run_all(page)
    wait_until_done(page, STEP_TIMEOUT_MS)
    cells = page.locator(".jp-CodeCell")
    expect(cells.nth(0).locator(".jp-OutputArea-output")).to_have_text("first")
    expect(cells.nth(1).locator(".jp-OutputArea-output")).to_contain_text("ScriptError")
    # The cell after the error was aborted: no output, no execution count.
    expect(cells.nth(2).locator(".jp-OutputArea-output")).to_have_count(0)
    assert prompts(page)[2] == "[ ]:", prompts(page)
