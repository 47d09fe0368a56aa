"""The Prefect UI pages an operator reads, rendered by headless Chromium (benchmarks/ui_check.py):
a setup waiting for approval is approved through its form (Playwright, as a user) and goes on;
the drift table puts drifted rows first, the block page shows typed fields, the URL is text."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.ui_check import chromium  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    # The check's own bound is its subprocess's (900 s): a loaded machine takes 4-5 minutes.
    pytest.mark.timeout(960),
    pytest.mark.skipif(
        chromium() is None,
        reason="Debian's chromium is not installed (`make ui-check` installs it as root)",
    ),
]


def test_the_ui_pages_render_what_an_operator_reads(tmp_path: Path) -> None:
    # A process of its own: the check runs its own Prefect server (with the UI) and sandbox.
    # In a session of its own too, so a check that overruns is stopped with its server.
    command = [sys.executable, str(ROOT / "benchmarks" / "ui_check.py"), "--out", str(tmp_path)]
    check = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        stdout, stderr = check.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        os.killpg(check.pid, signal.SIGKILL)
        stdout, stderr = check.communicate()
    assert check.returncode == 0, stdout[-4000:] + stderr[-4000:]
    assert "every check holds" in stdout
    for page in (
        "drift-table",
        "block",
        "block-v2",
        "drift-run",
        "dashboard",
        "approval-waiting",
        "approval-form",
        "approval-filled",
        "approval-plan",
        "approval-plan-review",
    ):
        assert (tmp_path / f"{page}.png").stat().st_size > 10_000
