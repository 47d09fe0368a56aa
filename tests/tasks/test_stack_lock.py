"""The stack lock against a real Prefect server: crash-safe, exclusive, and it says who holds it."""

from __future__ import annotations

import contextvars
import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.errors import SpecError, WaitTimeout
from core.lease import Lease, new_lease

ROOT = Path(__file__).parents[2]
HOLD_THEN_BLOCK = """
import sys
from tasks.stack_lock import stack_lock
with stack_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()  # holds until killed
"""


@pytest.fixture
def fast_lock(monkeypatch: pytest.MonkeyPatch, prefect_server: None) -> None:
    monkeypatch.setenv("KFALB_LOCK_LEASE_SECONDS", "1")
    monkeypatch.setenv("KFALB_LOCK_POLL_SECONDS", "0.05")
    monkeypatch.setenv("KFALB_PROGRESS_INTERVAL_SECONDS", "0.01")


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="kfalb.tasks")
    return caplog


def _store(lease: Lease) -> None:
    from prefect.client.orchestration import get_client

    from tasks.leases import create
    from tasks.stack_lock import lock_variable

    with get_client(sync_client=True) as client:
        assert create(client, lock_variable(lease.stack), lease, []) is not None


def _flow_run(state: Any) -> Any:
    from prefect import flow
    from prefect.client.orchestration import get_client

    @flow(name="lock-holder")
    def holder() -> None:
        """Stands for a run that took a stack's lock."""

    with get_client(sync_client=True) as client:
        run = client.create_flow_run(holder, name="holding-run")
        client.set_flow_run_state(run.id, state, force=True)
    return run


def _lease(stack: str, *, run: Any = None, expires_in: float = 3600.0) -> Lease:
    now = datetime.now(UTC)
    return new_lease(stack, token="other", now=now - timedelta(seconds=5), duration=5 + expires_in,
                     flow_run_id=str(run.id) if run else None,
                     flow_run_name=run.name if run else "", host="elsewhere", pid=99999)  # fmt: skip


def test_the_lock_is_a_lease_named_after_its_holder_and_gone_after_release(fast_lock: None) -> None:
    from tasks.stack_lock import stack_lock, stack_lock_of
    from tests.leases_held import held_lease

    with stack_lock("lock-basic") as lease:
        held = held_lease(stack_lock_of("lock-basic"))
        assert held is not None
        assert held.token == lease.token
        assert (held.pid, held.flow_run_id) == (os.getpid(), None)
        assert held.expires <= held.since + timedelta(seconds=1)
    assert held_lease(stack_lock_of("lock-basic")) is None


def test_a_sigkilled_holder_blocks_no_longer_than_its_lease(
    fast_lock: None, logs: pytest.LogCaptureFixture
) -> None:
    from prefect.settings import PREFECT_API_URL

    from tasks.stack_lock import stack_lock, stack_lock_of
    from tests.leases_held import held_lease

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THEN_BLOCK, "lock-killed"], cwd=ROOT,
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        dead = held_lease(stack_lock_of("lock-killed"))
        assert dead is not None
        assert dead.pid == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()

    with stack_lock("lock-killed", timeout=120) as lease:
        assert lease.token != dead.token
    text = logs.text
    assert "Taking over the lock of stack lock-killed from a process outside a flow run on " in text
    assert f"pid {holder.pid}: its lease lapsed" in text


def test_a_holder_that_stops_renewing_loses_the_lock_and_is_told(
    fast_lock: None, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks import leases
    from tasks import stack_lock as module

    stalled = threading.Event()
    monkeypatch.setattr(leases.Renewer, "_run", lambda self: stalled.set())  # renews never
    with module.stack_lock("lock-stalled"):
        assert stalled.wait(timeout=30)
        monkeypatch.undo()
        monkeypatch.setenv("KFALB_LOCK_LEASE_SECONDS", "1")
        monkeypatch.setenv("KFALB_LOCK_POLL_SECONDS", "0.05")
        with module.stack_lock("lock-stalled", timeout=120):
            pass
    assert "its lease lapsed" in logs.text
    assert "The lock of stack lock-stalled was taken over while this run held it" in logs.text


def test_a_renewed_lease_keeps_a_waiting_run_out(
    fast_lock: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks.stack_lock import stack_lock

    monkeypatch.setenv("KFALB_LOCK_LEASE_SECONDS", "3")
    # The wait lasts several lease periods: only renewal keeps the holder's lease alive.
    with (
        stack_lock("lock-renewed"),
        pytest.raises(WaitTimeout, match="held by a process"),
        stack_lock("lock-renewed", timeout=7),
    ):
        pass


@pytest.mark.parametrize("state", ["Crashed", "Failed", "Cancelled", "Completed"])
def test_a_finished_holder_run_is_taken_over_at_once(
    fast_lock: None, logs: pytest.LogCaptureFixture, state: str
) -> None:
    from prefect import states

    from tasks.stack_lock import stack_lock

    run = _flow_run(getattr(states, state)())
    stack = f"lock-{state.lower()}"
    _store(_lease(stack, run=run))

    with stack_lock(stack, timeout=120):
        pass
    assert f"from flow run 'holding-run' ({run.id}) on elsewhere pid 99999: its flow run is " \
           f"{state}" in logs.text  # fmt: skip


def test_a_waiting_run_says_who_holds_the_lock_until_when(
    fast_lock: None, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.states import Running

    from tasks.stack_lock import stack_lock
    from tasks.waits import PROGRESS_MARK

    monkeypatch.setenv("KFALB_LOCK_TIMEOUT_SECONDS", "0.3")
    run = _flow_run(Running())
    _store(_lease("lock-busy", run=run))

    with pytest.raises(WaitTimeout) as error, stack_lock("lock-busy"):
        pass
    holder = f"held by flow run 'holding-run' ({run.id}) on elsewhere pid 99999 since "
    # Through the common wait engine: marked progress lines, a start line, then the cadence.
    progress = [r.getMessage() for r in logs.records if getattr(r, PROGRESS_MARK, False)]
    start, *still = progress
    assert start.startswith(
        "Waiting for the lock of stack lock-busy (up to 0.3s; KFALB_LOCK_TIMEOUT_SECONDS changes "
        f"this): {holder}"
    )
    assert ", lease until " in start
    assert "`kfalb unlock --stack lock-busy`" in start
    assert still, "no line at the progress cadence"
    assert all(line.startswith("Still waiting for the lock of stack lock-busy (") for line in still)
    assert all(holder in line and ", lease until " in line for line in still)
    assert holder in str(error.value)
    assert "kfalb unlock --stack lock-busy" in str(error.value)
    assert "To wait longer raise KFALB_LOCK_TIMEOUT_SECONDS" in str(error.value)


def test_a_free_lock_is_taken_without_a_waiting_line(
    fast_lock: None, logs: pytest.LogCaptureFixture
) -> None:
    from tasks.stack_lock import stack_lock
    from tasks.waits import PROGRESS_MARK

    with stack_lock("lock-free"):
        pass
    assert not [r for r in logs.records if getattr(r, PROGRESS_MARK, False)]


def test_two_takers_never_hold_the_lock_at_once(fast_lock: None) -> None:
    from tasks.stack_lock import stack_lock, stack_lock_of
    from tests.leases_held import held_lease

    _store(_lease("lock-race", expires_in=-1))  # a lapsed lease: the takers race its takeover
    inside, most, errors = [0], [0], list[BaseException]()
    guard = threading.Lock()

    def take() -> None:
        try:
            for _ in range(3):
                with stack_lock("lock-race", timeout=120):
                    with guard:
                        inside[0] += 1
                        most[0] = max(most[0], inside[0])
                    held_lease(stack_lock_of("lock-race"))  # a round trip while holding
                    with guard:
                        inside[0] -= 1
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=contextvars.copy_context().run, args=(take,))
               for _ in range(4)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert most[0] == 1


def test_unlock_breaks_a_lock_by_hand_with_a_warning(
    fast_lock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from kfalb.cli import main
    from tasks.stack_lock import stack_lock_of
    from tests.leases_held import held_lease

    _store(_lease("lock-manual"))
    assert main(["unlock", "--stack", "lock-manual"]) == 0
    err = capsys.readouterr().err
    assert "warning: broke the lock of stack lock-manual, held by a process outside a flow run " \
           "on elsewhere pid 99999" in err  # fmt: skip
    assert held_lease(stack_lock_of("lock-manual")) is None
    assert main(["unlock", "--stack", "lock-manual"]) == 0
    assert "Stack lock-manual is not locked." in capsys.readouterr().out


def test_a_stack_name_that_is_no_name_is_refused(fast_lock: None) -> None:
    from tasks.stack_lock import stack_lock

    with pytest.raises(SpecError, match="is not a stack name"), stack_lock("x;touch f"):
        pass


def test_a_failed_release_does_not_hide_the_runs_own_error(
    fast_lock: None, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks import leases
    from tasks import stack_lock as module

    real = leases.by_id

    def unreachable(client: Any, method: str, variable_id: Any, **kwargs: Any) -> bool:
        if method == "DELETE":
            raise ConnectionError("Prefect API unreachable")
        return real(client, method, variable_id, **kwargs)

    def hold_then_fail() -> None:
        with module.stack_lock("lock-release"):
            monkeypatch.setattr(leases, "by_id", unreachable)
            raise KeyError("the run's own")

    with pytest.raises(KeyError, match="the run's own"):
        hold_then_fail()
    monkeypatch.undo()
    assert "Could not release the lock of stack lock-release (Prefect API unreachable)" in logs.text
    assert module.break_lock("lock-release") is not None  # it was left to lapse
