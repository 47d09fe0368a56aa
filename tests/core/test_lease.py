"""The stack lock's lease: when another run may take it over, and how the holder is named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.lease import MISSING, new_lease, renew_interval, takeover_reason

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _lease(duration: float = 60.0, run: str | None = "6f1c0a4e-0000-4000-8000-000000000001"):
    return new_lease("demo", token="t", now=NOW, duration=duration, flow_run_id=run,
                     flow_run_name="brave-fox", host="runner-1", pid=4242)  # fmt: skip


def test_a_live_holder_keeps_the_lock_until_its_lease_lapses() -> None:
    lease = _lease()
    assert takeover_reason(lease, NOW + timedelta(seconds=59), "RUNNING") is None
    reason = takeover_reason(lease, NOW + timedelta(seconds=75), "RUNNING")
    assert reason == "its lease lapsed 15s ago (the holder stopped renewing it)"


@pytest.mark.parametrize("state", ["CRASHED", "FAILED", "CANCELLED", "COMPLETED"])
def test_a_finished_flow_run_holds_nothing_even_with_a_fresh_lease(state: str) -> None:
    assert takeover_reason(_lease(), NOW, state) == f"its flow run is {state.title()}"


def test_a_flow_run_prefect_does_not_know_holds_nothing() -> None:
    assert "has no flow run 6f1c0a4e" in str(takeover_reason(_lease(), NOW, MISSING))


def test_renewal_moves_only_the_expiry_and_comes_three_times_per_lease() -> None:
    lease = _lease(duration=30)
    later = lease.renewed(NOW + timedelta(seconds=20), 30)
    assert later.expires == NOW + timedelta(seconds=50)
    assert (later.since, later.token) == (lease.since, lease.token)
    assert renew_interval(60) == 20


def test_the_description_names_the_holder_and_the_lease() -> None:
    text = _lease().describe(NOW + timedelta(seconds=10))
    assert (
        "flow run 'brave-fox' (6f1c0a4e-0000-4000-8000-000000000001) on runner-1 pid 4242" in text
    )
    assert "since 2026-12-01 12:00:00 UTC, lease until 12:01:00 UTC (in 50s)" in text
    outside = _lease(run=None).describe(NOW + timedelta(seconds=61))
    assert "a process outside a flow run on runner-1" in outside
    assert "(lapsed 1s ago)" in outside
