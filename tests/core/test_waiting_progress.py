"""The waiting engine tells, at a steady cadence of (fake) time, what it waits for and last saw."""

from __future__ import annotations

import pytest

from core.errors import WaitTimeout
from core.waiting import Progress, wait_until


class Clock:
    """Time that moves only when the wait sleeps (or a fetch takes time)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _states(clock: Clock, ready_at: float) -> object:
    def fetch() -> str:
        return "active" if clock.now >= ready_at else f"provisioning@{clock.now:g}"

    return fetch


def test_progress_names_the_wait_its_bound_and_setting_then_what_was_seen_at_the_cadence() -> None:
    clock, lines = Clock(), []
    result = wait_until(
        _states(clock, ready_at=95), lambda v: v == "active", what="the ALB to be active",
        timeout=900, interval=5, max_interval=10, describe=lambda v: f"state {v}",
        progress=Progress(lines.append, interval=20, setting="KFALB_ALB_TIMEOUT_SECONDS"),
        clock=clock, sleep=clock.sleep,
    )  # fmt: skip
    assert result == "active"
    assert lines[0] == (
        "Waiting for the ALB to be active (up to 15 min; KFALB_ALB_TIMEOUT_SECONDS changes this)"
    )
    still = lines[1:]
    # 95 s of waiting with a 20 s cadence: reports at 20, 40, 60, 80 s, each naming the last state.
    assert [line.split(" (")[1].split("s of")[0] for line in still] == ["20", "40", "60", "80"]
    assert all(line.startswith("Still waiting for the ALB to be active") for line in still)
    assert still[0].endswith("): state provisioning@20")


def test_sleeps_are_cut_short_so_the_cadence_holds_with_long_poll_intervals() -> None:
    clock, lines, times = Clock(), [], []

    def report(line: str) -> None:
        lines.append(line)
        times.append(clock.now)

    with pytest.raises(WaitTimeout):
        wait_until(
            lambda: "pending", lambda v: False, what="x", timeout=100, interval=30,
            max_interval=60, progress=Progress(report, interval=15), clock=clock, sleep=clock.sleep,
        )  # fmt: skip
    assert times == [0, 15, 30, 45, 60, 75, 90]
    assert max(clock.sleeps) <= 15


def test_observe_gives_the_progress_line_and_describe_the_timeout() -> None:
    clock, lines = Clock(), []
    with pytest.raises(WaitTimeout, match="last seen: PENDING_VALIDATION$"):
        wait_until(
            lambda: "PENDING_VALIDATION", lambda v: False, what="certificates", timeout=30,
            interval=10, describe=str,
            progress=Progress(lines.append, interval=10, observe=lambda v: f"{v}; record visible: no"),
            clock=clock, sleep=clock.sleep,
        )  # fmt: skip
    assert lines[1].endswith("): PENDING_VALIDATION; record visible: no")


def test_a_failing_observe_does_not_end_the_wait() -> None:
    clock, lines = Clock(), []

    def broken(_: object) -> str:
        raise OSError("resolver down")

    values = iter(["a", "b", "c", "done"])
    assert wait_until(
        lambda: next(values), lambda v: v == "done", what="x", timeout=100, interval=10,
        progress=Progress(lines.append, interval=10, observe=broken), clock=clock, sleep=clock.sleep,
    ) == "done"  # fmt: skip
    assert "could not describe: resolver down" in lines[1]


def test_an_immediate_success_says_nothing() -> None:
    lines: list[str] = []
    assert wait_until(lambda: 1, bool, what="x", timeout=5, progress=Progress(lines.append)) == 1
    assert lines == []


def test_a_timeout_names_the_setting_that_raises_the_bound() -> None:
    clock = Clock()
    with pytest.raises(WaitTimeout) as raised:
        wait_until(
            lambda: "provisioning", lambda v: False, what="the ALB", timeout=10, interval=5,
            describe=str, progress=Progress(lambda _: None, setting="KFALB_ALB_TIMEOUT_SECONDS"),
            clock=clock, sleep=clock.sleep,
        )  # fmt: skip
    assert str(raised.value) == (
        "Timed out after 10s waiting for the ALB; last seen: provisioning. To wait longer raise "
        "KFALB_ALB_TIMEOUT_SECONDS; re-running resumes the wait"
    )


def test_first_seen_puts_what_the_first_look_saw_on_the_start_line() -> None:
    clock, lines = Clock(), []
    values = iter(["held by run A", "held by run A", "held by run B", "free"])
    assert wait_until(
        lambda: next(values), lambda v: v == "free", what="the lock of stack s", timeout=60,
        interval=10, describe=str, clock=clock, sleep=clock.sleep,
        progress=Progress(lines.append, interval=10, setting="KFALB_LOCK_TIMEOUT_SECONDS",
                          first_seen=True),
    ) == "free"  # fmt: skip
    assert lines == [
        "Waiting for the lock of stack s (up to 60s; KFALB_LOCK_TIMEOUT_SECONDS changes this): "
        "held by run A",
        "Still waiting for the lock of stack s (10s of 60s): held by run A",
        "Still waiting for the lock of stack s (20s of 60s): held by run B",
    ]


def test_a_slow_look_still_reports_at_the_first_poll_after_the_cadence() -> None:
    """A fetch that itself takes longer than the cadence (a slow API) does not skip reports."""
    clock, lines = Clock(), []

    def slow() -> str:
        clock.now += 25  # each look takes 25 s of the wait's time
        return "pending"

    with pytest.raises(WaitTimeout):
        wait_until(
            slow, lambda v: False, what="x", timeout=100, interval=1, describe=str,
            progress=Progress(lines.append, interval=20), clock=clock, sleep=clock.sleep,
        )  # fmt: skip
    # One line per look: the start, then every look, since each comes more than 20 s later.
    assert len(lines) == 4
    assert [line.split("(")[1].split("s of")[0] for line in lines[1:]] == ["50", "76", "104"]
