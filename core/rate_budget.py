"""A request budget per key (an AWS account): callers are admitted at most `rate` per second."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from core.waiting import wait_until


class RateBudget:
    """Admits callers of one key no closer than 1/`rate` seconds apart, in arrival order (a
    token bucket holding one token): in any second at most `rate` of them go.

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

    def reserve(self, key: str, rate: float) -> float:
        """Take the next free slot of `key` (a time on the clock) without waiting for it."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(key, now))
            # A hair more than 1/rate: float sums must not fit rate + 1 slots in one second.
            self._next[key] = slot + 1.0 / rate * (1 + 1e-9)
            return slot

    def acquire(self, key: str, rate: float) -> float:
        """Wait for the next slot of `key` at `rate` per second; return the slot's time."""
        slot = self.reserve(key, rate)
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
