"""Approving a plan before it is applied (pure): whether a run asks for it, what the reviewer is
shown, and what a rejection or a plan changed since says. The wait itself is Prefect's
(flows/approval.py): a form on the run, in the UI."""

from __future__ import annotations

from core.errors import PermanentError
from core.plan import Plan
from core.plan_review import PlanReview
from core.spec import StackSpec

APPROVE, REJECT = "approve", "reject"


class PlanRejected(PermanentError):
    """A reviewer rejected the plan: nothing was applied (the run ends cancelled)."""


def approval_needed(spec: StackSpec, requested: bool | None, result: Plan) -> bool:
    """A plan with changes waits for approval when the run asks for it (`requested`), or, when
    the run does not say, when the stack does (`stack.approval: required`)."""
    wanted = requested if requested is not None else spec.stack.approval == "required"
    return wanted and not result.converged


def request_text(review: PlanReview, result: Plan, *, what: str, artifact: str) -> str:
    """The form's description (Markdown): what is asked, the plan's summary, digest, policy
    findings, cost, and where the whole plan is."""
    findings = review.policy.summary()
    return "\n".join(
        [
            f"## Approve the {what} of stack `{review.stack}`?",
            "",
            f"**Plan:** {result.summary()} — the table is the artifact `{artifact}` of this run "
            f"(and `{artifact}-review`).",
            f"**Digest:** `{review.digest}` — approving applies exactly this plan: if the world "
            "or the spec changes before the run goes on, it applies nothing (stale plan).",
            f"**Policy:** {findings}.",
            f"**Cost:** {review.cost.line()}.",
            "",
            "Choose *approve* or *reject*, say who you are, and add a comment (it is kept in the "
            "run's log).",
        ]
    )


def rejected(stack: str, *, reviewer: str, comment: str, what: str) -> PlanRejected:
    said = f": {comment}" if comment.strip() else ""
    return PlanRejected(
        f"Stack {stack}: {reviewer or 'a reviewer'} rejected the {what} plan{said}. Nothing was "
        "applied."
    )
