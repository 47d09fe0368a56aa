"""Naming is deterministic and bounded; the waiting engine backs off and times out with a diagnosis."""

from __future__ import annotations

import pytest

from core import naming
from core.errors import WaitTimeout
from core.waiting import wait_until


def test_stack_name_from_subdomain_is_deterministic_and_bounded() -> None:
    assert naming.default_stack_name("platform.example.com") == "platform-example-com"
    long = "a-very-long-subdomain-label.of-some-team.example-corporation.com"
    name = naming.default_stack_name(long)
    assert name == naming.default_stack_name(long)
    assert len(name) <= 40
    assert naming.stack_name_problem(name) is None
    assert len(naming.role_name(name)) <= 64


def test_idempotency_keys_are_stable_and_distinct() -> None:
    one = naming.certificate_idempotency_token("s", "*.a.example.com", ("b.a.example.com",))
    assert one == naming.certificate_idempotency_token("s", "*.a.example.com", ("b.a.example.com",))
    assert one != naming.certificate_idempotency_token("s", "*.example.com", ())
    assert len(one) <= 32
    assert one.isalnum()
    first = naming.zone_caller_reference("s", "a.example.com.")
    assert first == naming.zone_caller_reference("s", "A.example.com")
    assert first != naming.zone_caller_reference("s", "a.example.com", 1)


def test_ownership() -> None:
    tags = naming.ownership_tags("s", {"team": "ml"})
    assert naming.is_owned(tags, "s")
    assert not naming.is_owned(tags, "other")
    assert not naming.is_owned({"team": "ml"}, "s")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_until_returns_accepted_value_with_backoff() -> None:
    clock = FakeClock()
    values = iter(["a", "b", "c", "done"])
    result = wait_until(
        lambda: next(values), lambda v: v == "done", what="x", timeout=100,
        interval=2, max_interval=3, clock=clock, sleep=clock.sleep,
    )  # fmt: skip
    assert result == "done"
    assert clock.sleeps == [2, 3, 3]


def test_wait_until_times_out_naming_what_and_last_seen() -> None:
    clock = FakeClock()
    with pytest.raises(WaitTimeout, match=r"waiting for the ALB; last seen: state=provisioning"):
        wait_until(
            lambda: "provisioning", lambda v: False, what="the ALB", timeout=10, interval=4,
            describe=lambda v: f"state={v}", clock=clock, sleep=clock.sleep,
        )  # fmt: skip
    assert clock.now == pytest.approx(10)
