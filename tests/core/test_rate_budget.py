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


def test_a_burst_goes_at_once_then_the_rate_applies_as_in_aws_token_bucket() -> None:
    clock = FakeClock()
    budget = RateBudget(clock=clock, sleep=clock.sleep)
    slots = [budget.acquire("account 1", 10.0, burst=5) for _ in range(8)]
    assert slots[:5] == [0.0] * 5  # a full bucket: five go at once, nobody waits
    assert slots[5:] == pytest.approx([0.1, 0.2, 0.3])  # then one per refill
    clock.now = 10.0  # the bucket has filled up again
    again = [budget.reserve("account 1", 10.0, burst=5) for _ in range(6)]
    assert again == pytest.approx([10.0] * 5 + [10.1])


def test_concurrent_callers_with_a_burst_never_exceed_the_bucket() -> None:
    clock = FakeClock()
    budget = RateBudget(clock=clock, sleep=clock.sleep)
    slots: list[float] = []

    def call(_: int) -> None:
        slots.append(budget.acquire("account 1", 5.0, burst=3))

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(call, range(30)))
    slots.sort()
    for i, start in enumerate(slots):  # any window of t seconds: at most 3 + 5 t requests
        for end in slots[i:]:
            inside = sum(1 for t in slots if start <= t <= end)
            assert inside <= 3 + 5 * (end - start) + 1e-6
    assert max(slots) == pytest.approx((30 - 3) / 5)  # and none of the bucket is wasted
