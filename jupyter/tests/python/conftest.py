"""Makes scripts/notebooks.py importable by the tests (`import notebooks`): one nbclient setup for
all; marks a test item that failed, for the browser test's screenshots."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Sets `item.failed` when the test's body fails (fixtures read it while tearing down)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        item.failed = True
