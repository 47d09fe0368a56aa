"""Waits with the project's bounds, poll cadence and progress lines (in the run's logs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from core.settings import Settings
from core.waiting import Progress, wait_until
from core.waits import Awaited
from tasks import interrupt
from tasks.logs import run_logger

T = TypeVar("T")

#: Log record attribute set on progress lines (see kfalb's output filter).
PROGRESS_MARK = "kfalb_progress"


def wait_for(
    awaited: Awaited,
    fetch: Callable[[], T],
    *,
    until: Callable[[T], bool],
    settings: Settings,
    describe: Callable[[T | None], str] | None = None,
    observe: Callable[[object], str] | None = None,
) -> T:
    """`core.waiting.wait_until` as the table of waits (core/waits.py) declares the kind:
    bounded by its Settings field, polling at its cadence, logging progress every
    KFALB_PROGRESS_INTERVAL_SECONDS.

    Args:
        awaited: the kind of wait and what it awaits, e.g. `WAITS.acm_issued.of(names)`.
        fetch: reads the current value.
        until: True once the value is what is awaited.
        settings: the settings to read bounds and cadence from.
        describe: what the last value was, for the timeout message and progress lines.
        observe: a richer look for progress lines only (may call DNS or the API again).
    """
    wait, what = awaited
    logger = run_logger()

    def report(line: str) -> None:
        # Marked, so the command's quiet output keeps progress lines among the hidden chatter.
        logger.info("%s", line, extra={PROGRESS_MARK: True})

    progress = Progress(
        report=report,
        interval=settings.progress_interval_seconds,
        setting=wait.setting,
        observe=observe,
        first_seen=wait.first_seen,
    )
    interval, max_interval = wait.cadence(settings)
    return wait_until(
        fetch,
        until,
        what=what,
        timeout=wait.timeout(settings),
        interval=interval,
        max_interval=max_interval,
        describe=describe,
        progress=progress,
        sleep=interrupt.sleep,  # a stop request ends the wait at once
    )
