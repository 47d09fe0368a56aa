"""A request budget per key (an AWS account): a token bucket of `burst` requests refilled at
`rate` per second, as AWS keeps Route53's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from core.waiting import wait_until


class RateBudget:
    """Admits callers of one key in arrival order from a token bucket of `burst` tokens
    refilled at `rate` per second: up to `burst` go at once, then one per 1/`rate` seconds; in
    any window of t seconds at most `burst` + t x `rate` go (with `burst` 1, `rate` a second).

    The clock and the sleep are injectable; the wait goes through the one waiting engine.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 600.0,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._timeout = timeout
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, rate: float, burst: int = 1) -> float:
        """Take the next free slot of `key` (a time on the clock) without waiting for it."""
        # The bucket as one number per key (the generic cell rate algorithm): the time at which
        # it would be full again; a request may go `burst` - 1 intervals before that time.
        interval = 1.0 / rate * (1 + 1e-9)  # a hair more: float sums must not fit one more
        with self._lock:
            now = self._clock()
            full_at = max(now, self._next.get(key, now))
            slot = max(now, full_at - (burst - 1) * interval)
            self._next[key] = full_at + interval
            return slot

    def acquire(self, key: str, rate: float, burst: int = 1) -> float:
        """Wait for the next slot of `key` (`burst` at once, then `rate` per second); return
        the slot's time."""
        slot = self.reserve(key, rate, burst)
        ahead = slot - self._clock()
        if ahead > 0:
            wait_until(
                self._clock,
                lambda now: now >= slot,
                what=f"a request slot of {key} ({rate:g} per second)",
                timeout=max(self._timeout, ahead * 2),
                interval=ahead,
                max_interval=max(ahead, 0.01),
                clock=self._clock,
                sleep=self._sleep,
            )
        return slot
