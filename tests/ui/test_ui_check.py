"""The Prefect UI pages an operator reads, rendered by headless Chromium (benchmarks/ui_check.py):
a setup waiting for approval is approved through its form (Playwright, as a user) and goes on;
the drift table puts drifted rows first, the block page shows typed fields, the URL is text."""

from __future__ import annotations

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
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ui_check.py"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=900, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "every check holds" in done.stdout
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
