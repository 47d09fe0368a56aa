"""Ctrl-C during `kfalb setup` as a terminal sends it (SIGINT to the command's process group):
the run stops at its next safe point, releases the stack's lock, says how to go on and exits 130;
a second Ctrl-C exits at once; a re-run converges. With a Prefect server of the user's
(PREFECT_API_URL) and with the local server kfalb starts itself (which the signal must not reach).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import load_spec

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "sandbox.yaml"
STACK = "platform-example-com"
#: A line of setup's apply phase: the certificate was requested, its long wait begins, the
#: controller and IAM work run alongside.
MID_APPLY = re.compile(r"ensure-certificate: Requested certificate")
INTERRUPTED = "kfalb: interrupted; re-run setup to resume, or `kfalb cleanup --stack"
#: The plan line of a resumed setup: its apply starts right after.
PLANNED = re.compile(r"Stack platform-example-com: \d+ to create")
#: The issue's bound from the first Ctrl-C to the exit (a liveness bound of the contract).
STOP_BOUND_SECONDS = 10.0
NOISE = ("ERROR", "Traceback", "Crash detected", "EventsWorker")


def _setup(
    env: dict[str, str], *, interrupts: int, log: Path, at: re.Pattern[str] = MID_APPLY
) -> tuple[int, str]:
    """Run `kfalb setup` in its own process group; at a line matching `at` send `interrupts`
    SIGINTs to the group, as a terminal's Ctrl-C does (the second once the first was taken:
    signals sent at once arrive as one). The exit code and the output."""
    command = [sys.executable, "-m", "kfalb", "setup", "--config", str(EXAMPLE)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)  # fmt: skip
    lines: list[str] = []
    reached, taken = threading.Event(), threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if at.search(line):
                reached.set()
            if "stopping at the next safe point" in line:
                taken.set()
        reached.set()  # the end: nothing more to wait for

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if interrupts:
            assert reached.wait(600), "".join(lines)
            assert process.poll() is None, f"setup ended before its apply phase:\n{''.join(lines)}"
            os.killpg(process.pid, signal.SIGINT)
        if interrupts > 1:
            assert taken.wait(STOP_BOUND_SECONDS), "".join(lines)
            os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=STOP_BOUND_SECONDS if interrupts else 600)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        log.write_text("".join(lines))
        raise AssertionError(
            f"still running {STOP_BOUND_SECONDS}s after Ctrl-C:\n" + "".join(lines)
        ) from None
    reader.join(30)
    output = "".join(lines)
    log.write_text(output)
    return process.returncode, output


def _lock_holder(api_url: str) -> object:
    """The stack's lease (Prefect Variable kfalb-lock-<stack>), None when the lock is free."""
    url = f"{api_url.rstrip('/')}/variables/name/kfalb-lock-{STACK}"
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return json.loads(answer.read())["value"]
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def _env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "KFALB_LOCK_LEASE_SECONDS": "2",
        "KFALB_LOCK_POLL_SECONDS": "0.2",
        **extra,
    }


def _assert_stopped(code: int, output: str) -> None:
    assert code == 130, output
    assert INTERRUPTED in output
    assert not [word for word in NOISE if word in output], output


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ctrl_c_with_a_server_of_the_users_stops_safely_and_a_rerun_converges(
    sandbox_world: Callable[..., Any], tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    from flows.check_drift import observe_plan

    sandbox_world(acm_delay=6.0)
    api = str(PREFECT_API_URL.value())
    env = _env(PREFECT_API_URL=api)

    code, output = _setup(env, interrupts=1, log=tmp_path / "first.log")
    _assert_stopped(code, output)
    assert _lock_holder(api) is None  # released on the way out

    code, output = _setup(env, interrupts=2, log=tmp_path / "second.log", at=PLANNED)
    assert code == 130, output
    assert "again: exiting at once" in output
    assert "kfalb unlock --stack platform-example-com" in output  # the lock it leaves behind

    code, output = _setup(env, interrupts=0, log=tmp_path / "third.log")  # takes the lapsed lock
    assert code == 0, output
    assert observe_plan(load_spec(EXAMPLE.read_text()))[1].converged


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ctrl_c_with_kfalbs_own_server_leaves_the_server_running(
    sandbox_world: Callable[..., Any], tmp_path: Path
) -> None:
    sandbox_world(acm_delay=6.0)
    home = tmp_path / "prefect"
    env = _env(PREFECT_HOME=str(home))
    env.pop("PREFECT_API_URL", None)
    kfalb = [sys.executable, "-m", "kfalb", "server"]
    try:
        code, output = _setup(env, interrupts=1, log=tmp_path / "first.log")
        _assert_stopped(code, output)
        state = json.loads((home / "kfalb-server.json").read_text())
        api = f"http://127.0.0.1:{state['port']}/api"
        assert _lock_holder(api) is None  # the server outlived the Ctrl-C: it was not its
        # The next run finds that server (a run to the end is the other test's re-run): stopped
        # once it has planned on it, the server still answers.
        code, output = _setup(env, interrupts=1, log=tmp_path / "again.log", at=PLANNED)
        _assert_stopped(code, output)
        assert PLANNED.search(output), output
        assert "Starting a local Prefect server" not in output  # the same one, reused
        assert _lock_holder(api) is None
    finally:
        stopped = subprocess.run([*kfalb, "stop"], env=env, capture_output=True, text=True,
                                 check=False, timeout=120)  # fmt: skip
    assert "Stopped the local Prefect server" in stopped.stdout, stopped.stdout + stopped.stderr
