"""Observe a stack and plan it: the first half of setup, the drift check and `kfalb plan`."""

from __future__ import annotations

from core.kinds import stack_plan
from core.observation import Observation
from core.plan import Plan
from core.plan_output import table_rows
from core.plan_review import PlanReview, review_markdown
from core.resources import ClusterState
from core.spec import StackSpec
from core.state import StackRecord
from tasks.aws.clients import AwsContext
from tasks.k8s.clients import KubeTarget
from tasks.observe import observe_stack
from tasks.reporting import publish_markdown, publish_table

__all__ = ["observe", "publish_plan", "stack_plan", "summary"]


def observe(
    spec: StackSpec,
    *,
    ctx: AwsContext,
    cluster: ClusterState | None,
    target: KubeTarget | None,
    record: StackRecord | None,
    sweep: bool = False,
    root_refused: str = "",
) -> Observation:
    """Read every item of the stack (one task; its reads run together). Read only."""
    seen: Observation = observe_stack(
        ctx, spec, cluster, target, record=record, sweep=sweep, root_refused=root_refused
    )
    return seen


def summary(result: Plan) -> str:
    """`N to create, N to change, N in place`."""
    return result.summary()


def publish_plan(
    stack: str,
    result: Plan,
    *,
    what: str = "plan",
    title: str = "Plan",
    review: PlanReview | None = None,
) -> None:
    """The plan as a table artifact: the items to create or change first; with its review, a
    markdown artifact beside it (`<stack>-plan-review`: digest, policy findings, cost)."""
    publish_table(stack, what, table_rows(result), f"{title} of stack {stack}: {summary(result)}")
    if review is not None:
        publish_markdown(
            stack,
            f"{what}-review",
            review_markdown(review, summary=summary(result)),
            f"{review.policy.summary()}; {review.cost.line()}",
        )
