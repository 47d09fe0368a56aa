"""The review of a plan (digest, policy findings, cost): core.plan_review over what an
observation found, with the controller IAM policy the stack would install read from the bundle."""

from __future__ import annotations

from core.observation import Observation
from core.plan import Plan
from core.plan_review import PlanReview, review_plan
from core.policy import policy_facts
from core.spec import StackSpec
from tasks.aws.iam_policy import load_controller_policy


def review_stack_plan(spec: StackSpec, seen: Observation, result: Plan) -> PlanReview:
    """Review a stack's plan. Reads only bundled files: no AWS or Kubernetes call."""
    facts = policy_facts(
        spec,
        result,
        # The subnets are known once the cluster was read (before setup, or of a stack whose
        # cluster is gone, they are not: ELB.13 then says it was not checked).
        subnets=seen.subnets if seen.cluster is not None else None,
        controller_policy=load_controller_policy(version=spec.stack.controller_version),
    )
    return review_plan(spec, result, facts)
