"""The one waiting engine: poll until accepted or a deadline passes, with capped backoff."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from core.errors import WaitTimeout

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """Where and how often a wait tells what it is doing.

    Attributes:
        report: receives each progress line (a logger's `info`).
        interval: seconds of real time between "still waiting" lines.
        setting: the setting (environment variable) that changes the wait's bound.
        observe: what to tell about the last value in a progress line; default: the wait's
            `describe`. May look further than `describe` (e.g. ask DNS), as it runs only at the
            progress cadence.
        first_seen: the start line also tells what the first look saw (e.g. who holds a lock).
    """

    report: Callable[[str], None]
    interval: float = 20.0
    setting: str = ""
    observe: Callable[[object], str] | None = None
    first_seen: bool = False


def wait_until(
    fetch: Callable[[], T],
    accept: Callable[[T], bool],
    *,
    what: str,
    timeout: float,
    interval: float = 5.0,
    max_interval: float = 30.0,
    describe: Callable[[T | None], str] | None = None,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fetch` until `accept` says yes; return the accepted value.

    The delay grows by half each poll up to `max_interval` and never overshoots the deadline.
    With `progress`, the wait says at its start what it waits for, its bound and the setting that
    changes it, then every `progress.interval` seconds what it last saw (sleeps are cut short so
    the cadence holds even with long poll intervals). On timeout raise `WaitTimeout` naming `what`
    and, through `describe`, what was last seen.
    """
    start = clock()
    deadline = start + timeout
    delay = interval
    last: T | None = None
    next_report = start + progress.interval if progress else float("inf")
    first = True
    while True:
        last = fetch()
        if accept(last):
            return last
        now = clock()
        if progress and first:
            started = _started(what, timeout, progress.setting)
            if progress.first_seen:
                started += f": {_seen(last, describe, progress)}"
            progress.report(started)
        elif progress and now >= next_report:
            seen = _seen(last, describe, progress)
            progress.report(
                f"Still waiting for {what} ({now - start:.0f}s of {timeout:g}s): {seen}"
            )
            next_report = now + progress.interval
        first = False
        remaining = deadline - now
        if remaining <= 0:
            seen = describe(last) if describe else repr(last)
            hint = ""
            if progress and progress.setting:
                hint = f". To wait longer raise {progress.setting}; re-running resumes the wait"
            raise WaitTimeout(
                f"Timed out after {timeout:g}s waiting for {what}; last seen: {seen}{hint}"
            )
        sleep(max(0.0, min(delay, remaining, next_report - now)))
        delay = min(delay * 1.5, max_interval)


def _started(what: str, timeout: float, setting: str) -> str:
    bound = f"up to {_duration(timeout)}"
    if setting:
        bound += f"; {setting} changes this"
    return f"Waiting for {what} ({bound})"


def _seen(last: object, describe: Callable[..., str] | None, progress: Progress) -> str:
    try:
        if progress.observe is not None:
            return progress.observe(last)
        return describe(last) if describe else repr(last)
    except Exception as error:  # a progress line never ends the wait it reports on
        return f"(could not describe: {error})"


def _duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:g} min"
    return f"{seconds:g}s"
