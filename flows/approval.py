"""Wait for a reviewer's answer to a plan, as a form on the run in the Prefect UI.

A deployment run is suspended: its process ends and its worker slot is free while a human
decides (hours, maybe); on the answer Prefect schedules it again, the flow runs from the start,
observes and plans again under the stack's lock, and applies only if the plan is still the one
approved. A run without a deployment (`kfalb setup` on a laptop) cannot be rescheduled: it is
paused, its process waits. Either way the stack's lock is not held while waiting.
"""

from __future__ import annotations

from typing import Literal

from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from prefect.input.actions import read_flow_run_input
from prefect.input.run_input import keyset_from_base_key
from pydantic import Field

from core.approval import APPROVE, rejected, request_text
from core.errors import WaitTimeout
from core.plan import Plan
from core.plan_review import PlanReview
from core.settings import get_settings
from tasks.logs import run_logger
from tasks.reporting import artifact_links


class Approval(RunInput):
    """The reviewer's answer."""

    decision: Literal["approve", "reject"] = Field(description="Apply this plan, or not.")
    reviewer: str = Field(description="Who decides (name or e-mail).", min_length=1)
    comment: str = Field(default="", description="Why; kept in the run's log.")
    plan_digest: str = Field(description="The plan this answer is about (leave as it is).")


def approved_digest(review: PlanReview, result: Plan, *, what: str) -> str:
    """Wait for the answer; return the digest the reviewer approved (the caller applies only a
    plan with that digest). A rejection ends the run cancelled; no answer within
    KFALB_APPROVAL_TIMEOUT_SECONDS ends it failed; nothing is applied either way."""
    settings, logger = get_settings(), run_logger()
    # The plan's table, and beside it the review (setup) or the drifted values in full (drift).
    whats = ["plan", "plan-review"] if what == "setup" else ["drift", "drift-changes"]
    form = Approval.with_initial_data(
        description=request_text(
            review, result, what=what, artifacts=artifact_links(review.stack, whats)
        ),
        plan_digest=review.digest,
    )
    timeout, deployed = int(settings.approval_timeout_seconds), _deployed()
    if deployed and _answered(what):  # resumed: the run started again and finds its answer
        logger.info(
            "Stack %s: the %s plan was answered while this run was suspended; it "
            "started again and reads the answer.",
            review.stack,
            what,
        )
    else:
        logger.warning(
            "Stack %s: the %s plan (%s) waits for approval in the Prefect UI (the "
            "run's form), for %d s at most; nothing is applied until then.",
            review.stack,
            what,
            result.summary(),
            timeout,
        )
    try:
        if deployed:
            answer = suspend_flow_run(wait_for_input=form, timeout=timeout, key=f"approve-{what}")
        else:
            poll = max(1, int(settings.approval_poll_seconds))
            answer = pause_flow_run(
                wait_for_input=form, timeout=timeout, poll_interval=poll, key=f"approve-{what}"
            )
    except FlowPauseTimeout:
        raise WaitTimeout(
            f"Stack {review.stack}: nobody approved the {what} plan within {timeout} s "
            "(KFALB_APPROVAL_TIMEOUT_SECONDS). Nothing was applied."
        ) from None
    assert answer is not None  # waited for input: an answer, or the run ended above
    logger.info("Stack %s: %s %sd the %s plan %s%s", review.stack, answer.reviewer,
                answer.decision, what, answer.plan_digest,
                f" ({answer.comment})" if answer.comment else "")  # fmt: skip
    if answer.decision != APPROVE:
        raise rejected(review.stack, reviewer=answer.reviewer, comment=answer.comment, what=what)
    return answer.plan_digest


def _deployed() -> bool:
    """A deployment run (it can be suspended and scheduled again), not a local one."""
    context = FlowRunContext.get()
    return (
        context is not None
        and context.flow_run is not None
        and context.flow_run.deployment_id is not None
    )


def _answered(what: str) -> bool:
    """This run was suspended for approval and answered: Prefect keeps the answer under the
    suspension's key, and `suspend_flow_run` with that key returns it without waiting."""
    keyset = keyset_from_base_key(f"suspended-approve-{what}")
    return read_flow_run_input(keyset["response"]) is not None
