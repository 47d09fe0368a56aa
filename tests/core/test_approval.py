"""What a reviewer is shown (core/approval.py): the plan's summary, digest, policy findings and
cost, and links to the run's plan artifacts in the UI."""

from __future__ import annotations

import pytest
from test_plan_review import a_plan, spec, unknown_facts

from core.approval import approval_needed, rejected, request_text
from core.plan_review import review_plan

pytestmark = pytest.mark.pure

PLAN_URL = "http://127.0.0.1:4200/artifacts/artifact/0b8f4c2e-5a51-4d0c-9f53-4c2b1e9a1b01"


def test_the_form_links_the_plan_artifacts_and_shows_summary_digest_policy_and_cost() -> None:
    review = review_plan(spec(), a_plan(), unknown_facts())
    text = request_text(
        review,
        a_plan(),
        what="setup",
        artifacts=[
            ("platform-example-com-plan", PLAN_URL),
            ("platform-example-com-plan-review", None),
        ],
    )
    assert text.startswith("## Approve the setup of stack `platform-example-com`?")
    assert (
        f"**Plan:** 1 to create, 0 to change, 1 in place — the table is the artifact "
        f"[`platform-example-com-plan`]({PLAN_URL}) of this run "
        "(and `platform-example-com-plan-review`)."
    ) in text
    # The short digest (a code span does not wrap in the form); the whole one is the field's.
    assert f"**Digest:** `{review.digest.removeprefix('sha256:')[:12]}` (sha256; in full" in text
    assert review.digest not in text
    assert f"**Policy:** {review.policy.summary()}." in text
    assert f"**Cost:** {review.cost.line()}." in text


def test_a_plan_with_only_its_table_names_no_other_artifact() -> None:
    review = review_plan(spec(), a_plan(), unknown_facts())
    text = request_text(
        review, a_plan(), what="drift remediation", artifacts=[("platform-example-com-drift", None)]
    )
    assert "the table is the artifact `platform-example-com-drift` of this run." in text
    assert "(and" not in text


def test_approval_is_asked_for_a_plan_with_changes_only() -> None:
    required = spec(approval="required")
    assert approval_needed(required, None, a_plan())
    assert not approval_needed(required, False, a_plan())  # the run says no
    assert approval_needed(spec(), True, a_plan())  # the run asks
    assert not approval_needed(spec(), None, a_plan())
    converged = a_plan(record_found={"type": "A", "target": "alb-1.elb"})
    assert converged.converged
    assert not approval_needed(required, True, converged)


def test_a_rejection_names_who_and_why_and_says_nothing_was_applied() -> None:
    error = rejected("s", reviewer="ana", comment="  ", what="setup")
    assert str(error) == "Stack s: ana rejected the setup plan. Nothing was applied."
    error = rejected("s", reviewer="", comment="freeze", what="setup")
    assert str(error) == "Stack s: a reviewer rejected the setup plan: freeze. Nothing was applied."
