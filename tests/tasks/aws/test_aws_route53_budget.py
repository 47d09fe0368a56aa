"""Route53 clients of one account share one request budget (KFALB_ROUTE53_RATE per second)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.rate_budget import RateBudget
from sandbox.aws import AwsSandbox
from tasks.aws import clients, route53_budget
from tasks.aws.clients import AwsContext

OTHER_ACCOUNT = "209876543210"


class RecordingBudget(RateBudget):
    """The real budget on a fake clock that moves only when a caller waits; records slots."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slots: list[tuple[str, float]] = []
        self._clock_lock = threading.Lock()
        super().__init__(clock=self._time, sleep=self._sleep)

    def _time(self) -> float:
        with self._clock_lock:
            return self.now

    def _sleep(self, seconds: float) -> None:
        with self._clock_lock:
            self.now += seconds

    def acquire(self, key: str, rate: float, burst: int = 1) -> float:
        slot = super().acquire(key, rate, burst)
        with self._clock_lock:
            self.slots.append((key, slot))
        return slot


def test_clients_of_one_account_share_its_budget_and_other_accounts_have_their_own(
    sandbox: AwsSandbox, ctx: AwsContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = RecordingBudget()
    monkeypatch.setattr(route53_budget, "_budget", budget)
    monkeypatch.setenv("KFALB_ROUTE53_RATE", "2")
    monkeypatch.setenv("KFALB_ROUTE53_BURST", "2")
    one, two = (ctx.model_copy(update={"scope": name}) for name in ("stack-one", "stack-two"))
    # The flows read the caller identity first: that is how the budget learns the account.
    assert clients.client(one, "sts").get_caller_identity()["Account"] == sandbox.account_id
    first, second = clients.client(one, "route53"), clients.client(two, "route53")
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda i: (first if i % 2 else second).list_hosted_zones(), range(6)))
    shared = [slot for key, slot in budget.slots if key == f"account {sandbox.account_id}"]
    assert len(shared) == 6  # both clients (two stacks) queue in the account's one budget
    assert sorted(shared) == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.5, 2.0])  # two at once

    keys = sandbox.add_account(OTHER_ACCOUNT)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys.secret_access_key)
    clients.reset_sessions()
    other = AwsContext(region=ctx.region, scope="stack-three")
    assert clients.client(other, "sts").get_caller_identity()["Account"] == OTHER_ACCOUNT
    clients.client(other, "route53").list_hosted_zones()
    key, slot = budget.slots[-1]
    assert key == f"account {OTHER_ACCOUNT}"
    assert slot == budget.now  # not queued behind the first account's calls


def test_with_the_prefect_budget_each_request_takes_a_slot_of_the_accounts_limit(
    sandbox: AwsSandbox, ctx: AwsContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[tuple[str, float, int]] = []
    budget = RecordingBudget()
    monkeypatch.setattr(route53_budget, "_budget", budget)
    monkeypatch.setattr(route53_budget, "take_slot",
                        lambda key, *, rate, burst: taken.append((key, rate, burst)))  # fmt: skip
    monkeypatch.setenv("KFALB_ROUTE53_BUDGET", "prefect")
    monkeypatch.setenv("KFALB_ROUTE53_RATE", "10")
    clients.client(ctx, "sts").get_caller_identity()
    clients.client(ctx, "route53").list_hosted_zones()
    clients.client(ctx, "route53").list_hosted_zones()
    assert taken == [(f"account {sandbox.account_id}", 10.0, 5)] * 2  # the default burst
    assert budget.slots == []  # not the process's own bucket
    name = route53_budget.limit_name(taken[0][0])
    assert name == f"kfalb-route53-account-{sandbox.account_id}"
