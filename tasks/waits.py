"""Waits with the project's bounds, poll cadence and progress lines (in the run's logs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from core.settings import Settings
from core.waiting import Progress, wait_until
from tasks import interrupt
from tasks.logs import run_logger

T = TypeVar("T")

#: Log record attribute set on progress lines (see kfalb's output filter).
PROGRESS_MARK = "kfalb_progress"


def setting_name(bound: str) -> str:
    """The environment variable of a Settings field, e.g. KFALB_ACM_TIMEOUT_SECONDS."""
    return f"KFALB_{bound.upper()}"


def wait_for(
    fetch: Callable[[], T],
    accept: Callable[[T], bool],
    *,
    what: str,
    bound: str,
    settings: Settings,
    describe: Callable[[T | None], str] | None = None,
    observe: Callable[[object], str] | None = None,
    interval: float | None = None,
    max_interval: float | None = None,
    first_seen: bool = False,
) -> T:
    """`core.waiting.wait_until` bounded by the Settings field `bound` (e.g. "acm_timeout_seconds"),
    polling at the configured cadence and logging progress every KFALB_PROGRESS_INTERVAL_SECONDS.

    Args:
        fetch: reads the current value.
        accept: True once the value is what is awaited.
        what: what is awaited, as a phrase ("ACM certificates ... to be ISSUED").
        bound: the Settings field holding the timeout.
        settings: the settings to read bounds and cadence from.
        describe: what the last value was, for the timeout message and progress lines.
        observe: a richer look for progress lines only (may call DNS or the API again).
        interval: first poll delay, when shorter than the configured one makes sense.
        max_interval: longest poll delay, when another than the configured one makes sense.
        first_seen: the start line also says what the first look saw.
    """
    timeout = getattr(settings, bound)
    if not isinstance(timeout, float):
        raise TypeError(f"{bound} is not a wait bound of Settings")
    logger = run_logger()

    def report(line: str) -> None:
        # Marked, so the command's quiet output keeps progress lines among the hidden chatter.
        logger.info("%s", line, extra={PROGRESS_MARK: True})

    progress = Progress(
        report=report,
        interval=settings.progress_interval_seconds,
        setting=setting_name(bound),
        observe=observe,
        first_seen=first_seen,
    )
    return wait_until(
        fetch,
        accept,
        what=what,
        timeout=timeout,
        interval=settings.poll_interval_seconds if interval is None else interval,
        max_interval=settings.poll_max_interval_seconds if max_interval is None else max_interval,
        describe=describe,
        progress=progress,
        sleep=interrupt.sleep,  # a stop request ends the wait at once
    )
