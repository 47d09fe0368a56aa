"""Observe a stack and plan it: the first half of setup, the drift check and `kfalb plan`."""

from __future__ import annotations

from core.drift import drift_plan
from core.observation import Observation
from core.plan import Action, Plan
from core.plan_output import table_rows
from core.plan_review import PlanReview, review_markdown
from core.resources import ClusterState
from core.spec import StackSpec
from core.state import Kind, StackRecord
from flows.reporting import publish_markdown, publish_table
from tasks.aws.clients import AwsContext
from tasks.k8s.clients import KubeTarget
from tasks.observe import (
    ClusterObjects,
    observe_aws_resources,
    observe_cluster_objects,
    observe_dependents,
)


def observe(
    spec: StackSpec,
    *,
    ctx: AwsContext,
    cluster: ClusterState | None,
    target: KubeTarget | None,
    record: StackRecord | None,
) -> Observation:
    """Read every item of the stack (AWS and Kubernetes reads run together). Read only."""
    aws = observe_aws_resources.submit(ctx, spec, cluster)
    objects = (
        observe_cluster_objects.submit(target, spec.name, spec.ingress_name)
        if target
        else ClusterObjects()
    )
    recorded = record.first(Kind.CONTROLLER) if record else None
    # Resolved here so that a failed read (an unknown kube context) raises its own error; given
    # as a failed future, the dependent task would not run and return None.
    found = objects if isinstance(objects, ClusterObjects) else objects.result()
    # Likewise the AWS reads: a refusal there (a root zone id that does not exist) is its own.
    read: Observation = aws.result()
    seen: Observation = observe_dependents(
        ctx, spec, read, found, controller_recorded=bool(recorded and recorded.owned)
    )
    return seen


def stack_plan(spec: StackSpec, seen: Observation) -> Plan:
    """The one plan of a stack: its desired items against what was observed."""
    return drift_plan(spec, seen)


def summary(result: Plan) -> str:
    """`N to create, N to change, N in place`."""
    counts = result.counts()
    return (
        f"{counts[Action.CREATE]} to create, {counts[Action.UPDATE]} to change, "
        f"{counts[Action.KEEP]} in place"
    )


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
        publish_markdown(stack, f"{what}-review", review_markdown(review, summary=summary(result)),
                         f"{review.policy.summary()}; {review.cost.line()}")  # fmt: skip
