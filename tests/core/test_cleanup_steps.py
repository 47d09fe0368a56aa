"""The walk's schedule: a node starts once what it waits for finished; a failed node stops only
what waits for it, which says why; the report says why each leftover is left."""

from __future__ import annotations

import pytest

from core.cleanup_report import cleanup_summary, leftover_rows
from core.cleanup_steps import Outcome, outcome_summary
from core.schedule import Schedule

pytestmark = pytest.mark.pure

GRAPH = {
    "role": (),
    "policy": ("role",),
    "oidc": ("role",),
    "records": (),
    "zone": ("records",),
}


def _run(failing: str) -> tuple[list[str], Schedule[str]]:
    """Run the graph one node at a time, in the order the schedule offers them."""
    schedule: Schedule[str] = Schedule(GRAPH)
    ran: list[str] = []
    while startable := schedule.startable():
        for node in startable:
            ran.append(node)
            if node == failing:
                schedule.failed(node, f"{node} cannot be deleted yet")
            else:
                schedule.finished(node)
    return ran, schedule


def test_a_node_starts_once_what_it_waits_for_finished() -> None:
    schedule: Schedule[str] = Schedule(GRAPH)
    assert schedule.startable() == ["role", "records"]
    assert schedule.startable() == []  # running, not offered twice
    schedule.finished("records")
    assert schedule.startable() == ["zone"]
    schedule.finished("role")
    assert schedule.startable() == ["policy", "oidc"]


def test_a_failed_node_does_not_stop_independent_ones() -> None:
    ran, schedule = _run(failing="policy")
    assert sorted(ran) == sorted(GRAPH)
    assert schedule.left == {"policy": "failed: policy cannot be deleted yet"}
    assert schedule.done == ["role", "records", "oidc", "zone"]


def test_what_waits_for_a_failed_node_is_skipped_and_says_why() -> None:
    ran, schedule = _run(failing="records")
    assert "zone" not in ran
    assert schedule.left["zone"] == "not tried: records did not finish first"
    outcome = Outcome(failed={"records": "records cannot be deleted yet"},
                      skipped={"zone": schedule.left["zone"]})  # fmt: skip
    assert not outcome.complete
    assert outcome.reasons()["zone"] == "not tried: records did not finish first"
    assert outcome_summary(outcome) == (
        "records failed: records cannot be deleted yet; zone not tried: records did not finish "
        "first"
    )


def test_the_report_says_why_each_leftover_is_left() -> None:
    left = {"iam-policy": ["arn:aws:iam::1:policy/p"], "hosted-zone": []}
    reasons = {"iam-policy": "delete failed: attached", "hosted-zone": "not tried: x"}
    rows = leftover_rows(left, (), reasons)
    assert rows == [{"kind": "iam-policy", "resource": "arn:aws:iam::1:policy/p",
                     "status": "left behind", "why": "delete failed: attached"}]  # fmt: skip
    text = cleanup_summary("demo", left, (), reasons=reasons)
    assert "## Why it is left\n\n- **iam-policy**: delete failed: attached" in text
    assert "hosted-zone**: not tried" not in text  # nothing of it is left
