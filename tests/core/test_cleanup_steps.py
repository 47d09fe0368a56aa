"""Cleanup's step graph: a failed step stops only what depends on it, and says why."""

from __future__ import annotations

from core.cleanup_report import cleanup_summary, leftover_rows
from core.cleanup_steps import Step, outcome_summary, run_steps
from core.errors import AwsError
from core.state import Kind


def _steps(ran: list[str], failing: str) -> list[Step]:
    def work(name: str):
        def run() -> None:
            ran.append(name)
            if name == failing:
                raise AwsError(f"{name} cannot be deleted yet", code="DeleteConflict")

        return run

    return [
        Step("role", (Kind.IAM_ROLE,), work("role")),
        Step("policy", (Kind.IAM_POLICY,), work("policy"), after=("role",)),
        Step("oidc", (Kind.OIDC_PROVIDER,), work("oidc"), after=("role",)),
        Step("records", (Kind.VALIDATION_RECORD,), work("records")),
        Step("zone", (Kind.HOSTED_ZONE,), work("zone"), after=("records",)),
    ]


def test_a_failed_step_does_not_stop_independent_ones() -> None:
    ran: list[str] = []
    forgotten: list[str] = []
    steps = _steps(ran, failing="policy")
    outcome = run_steps(steps, on_done=lambda step: forgotten.append(step.name))
    assert ran == ["role", "policy", "oidc", "records", "zone"]
    assert forgotten == ["role", "oidc", "records", "zone"]
    assert outcome.failed == {"policy": "policy cannot be deleted yet"}
    assert not outcome.complete
    assert outcome.reasons(steps) == {"iam-policy": "delete failed: policy cannot be deleted yet"}


def test_what_depends_on_a_failed_step_is_skipped_and_says_why() -> None:
    ran: list[str] = []
    steps = _steps(ran, failing="records")
    outcome = run_steps(steps)
    assert "zone" not in ran
    assert outcome.skipped == {"zone": "not tried: records did not finish first"}
    assert outcome.reasons(steps)["hosted-zone"] == "not tried: records did not finish first"
    assert outcome_summary(outcome) == (
        "records failed: records cannot be deleted yet; zone not tried: records did not finish "
        "first"
    )


def test_unexpected_errors_are_kept_for_the_log() -> None:
    def broken() -> None:
        raise KeyError("bug")

    outcome = run_steps([Step("broken", (Kind.SUBNET_TAG,), broken)])
    assert outcome.failed == {"broken": "KeyError('bug')"}
    assert isinstance(outcome.errors["broken"], KeyError)


def test_the_report_says_why_each_leftover_is_left() -> None:
    left = {"iam-policy": ["arn:aws:iam::1:policy/p"], "hosted-zone": []}
    reasons = {"iam-policy": "delete failed: attached", "hosted-zone": "not tried: x"}
    rows = leftover_rows(left, (), reasons)
    assert rows == [{"kind": "iam-policy", "resource": "arn:aws:iam::1:policy/p",
                     "status": "left behind", "why": "delete failed: attached"}]  # fmt: skip
    text = cleanup_summary("demo", left, (), reasons=reasons)
    assert "## Why it is left\n\n- **iam-policy**: delete failed: attached" in text
    assert "hosted-zone**: not tried" not in text  # nothing of it is left
