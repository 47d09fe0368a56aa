"""The one waiting engine: poll until accepted or a deadline passes, with capped backoff."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from core.errors import WaitTimeout

T = TypeVar("T")


def wait_until(
    fetch: Callable[[], T],
    accept: Callable[[T], bool],
    *,
    what: str,
    timeout: float,
    interval: float = 5.0,
    max_interval: float = 30.0,
    describe: Callable[[T | None], str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fetch` until `accept` says yes; return the accepted value.

    The delay grows by half each poll up to `max_interval` and never overshoots the deadline.
    On timeout raise `WaitTimeout` naming `what` and, through `describe`, what was last seen.
    """
    deadline = clock() + timeout
    delay = interval
    last: T | None = None
    while True:
        last = fetch()
        if accept(last):
            return last
        remaining = deadline - clock()
        if remaining <= 0:
            seen = describe(last) if describe else repr(last)
            raise WaitTimeout(f"Timed out after {timeout:g}s waiting for {what}; last seen: {seen}")
        sleep(min(delay, remaining))
        delay = min(delay * 1.5, max_interval)
