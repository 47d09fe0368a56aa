"""Approving a plan before it is applied (pure): whether a run asks for it, what the reviewer is
shown, and what a rejection or a plan changed since says. The wait itself is Prefect's
(flows/approval.py): a form on the run, in the UI."""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import PermanentError
from core.plan import Plan
from core.plan_review import PlanReview, short_digest
from core.spec import StackSpec

APPROVE, REJECT = "approve", "reject"


class PlanRejected(PermanentError):
    """A reviewer rejected the plan: nothing was applied (the run ends cancelled)."""


def approval_needed(spec: StackSpec, requested: bool | None, result: Plan) -> bool:
    """A plan with changes waits for approval when the run asks for it (`requested`), or, when
    the run does not say, when the stack does (`stack.approval: required`)."""
    wanted = requested if requested is not None else spec.stack.approval == "required"
    return wanted and not result.converged


def request_text(
    review: PlanReview, result: Plan, *, what: str, artifacts: Sequence[tuple[str, str | None]]
) -> str:
    """The form's description (Markdown): what is asked, the plan's summary, digest, policy
    findings, cost, and where the whole plan is: `artifacts`, the run's artifacts (key, and
    their page in the UI when known, as a link), the plan's table first."""
    findings = review.policy.summary()
    (table, table_url), *beside = artifacts
    others = ", ".join(_named(key, url) for key, url in beside)
    return "\n".join(
        [
            f"## Approve the {what} of stack `{review.stack}`?",
            "",
            f"**Plan:** {result.summary()} — the table is the artifact {_named(table, table_url)} "
            f"of this run{f' (and {others})' if others else ''}.",
            # The whole digest overflows the form's width (a code span does not wrap): its
            # short form, as the stale-plan message names plans; whole in the field below.
            f"**Digest:** `{short_digest(review.digest)}` (sha256; in full in *Plan Digest* "
            "below) — approving applies exactly this plan: if the world or the spec changes "
            "before the run goes on, it applies nothing (stale plan).",
            f"**Policy:** {findings}.",
            f"**Cost:** {review.cost.line()}.",
            "",
            "Choose *approve* or *reject*, say who you are, and add a comment (it is kept in the "
            "run's log).",
        ]
    )


def _named(key: str, url: str | None) -> str:
    return f"[`{key}`]({url})" if url else f"`{key}`"


def rejected(stack: str, *, reviewer: str, comment: str, what: str) -> PlanRejected:
    said = f": {comment}" if comment.strip() else ""
    return PlanRejected(
        f"Stack {stack}: {reviewer or 'a reviewer'} rejected the {what} plan{said}. Nothing was "
        "applied."
    )
