"""The Route53 budget: concurrent callers of one account never exceed its rate in any second."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.rate_budget import RateBudget


class FakeClock:
    """A shared clock that only moves when a caller sleeps (no real time passes)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds


def _most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


def test_concurrent_callers_of_one_account_stay_within_the_rate() -> None:
    clock = FakeClock()
    budget = RateBudget(clock=clock, sleep=clock.sleep)
    admitted: list[tuple[float, float]] = []  # (slot, the clock when the caller went)

    def call(_: int) -> None:
        slot = budget.acquire("account 1", 5.0)
        admitted.append((slot, clock()))

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(call, range(40)))
    slots = [slot for slot, _ in admitted]
    assert len(slots) == 40
    assert _most_in_one_second(slots) == 5
    assert all(went >= slot for slot, went in admitted)  # nobody went before its slot
    # 40 calls at 5 per second take (40 - 1) / 5 seconds of slots: none is wasted either.
    assert max(slots) - min(slots) < 39 / 5 + 0.01


def test_accounts_have_budgets_of_their_own() -> None:
    clock = FakeClock()
    budget = RateBudget(clock=clock, sleep=clock.sleep)
    first = [budget.reserve("account 1", 2.0) for _ in range(4)]
    other = budget.reserve("account 2", 2.0)
    assert first == pytest.approx([0.0, 0.5, 1.0, 1.5])
    assert other == 0.0  # another account is not held back by the first one's queue


def test_a_caller_within_the_budget_does_not_wait() -> None:
    clock = FakeClock()
    budget = RateBudget(clock=clock, sleep=clock.sleep)
    budget.acquire("account 1", 5.0)
    clock.now += 1.0
    budget.acquire("account 1", 5.0)
    assert clock.slept == []
