"""Plan invariants on the sandbox, over twelve kinds of tampering across Route53, ACM, IAM, EC2
and Kubernetes: (a) the plan lists exactly the tampered item; (b) apply (remediation) makes
mutating calls only for kinds the plan marks; (c) right after apply the plan is empty, and a setup
then makes no mutating AWS call and changes no Kubernetes resourceVersion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.kinds import CHECKED
from core.resources import ApiCallCounts
from core.spec import StackSpec, load_spec
from core.state import Kind
from tests.flows.test_drift_flow import _versions
from tests.tamper_stack import CARRIED_ON, OPERATION_KINDS, TAMPERINGS

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"


def _spec() -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"]["name"] = "invariants"
    return StackSpec.model_validate(data)


def _kinds_changed(calls: ApiCallCounts) -> list[tuple[str, frozenset[Kind]]]:
    """Each mutating AWS operation made, with the kinds it can serve (none: never ours to call,
    e.g. ELBv2 writes, which only the ALB controller makes)."""
    return [
        (
            f"{call.service}:{call.operation}",
            OPERATION_KINDS.get((call.service, call.operation), frozenset()),
        )
        for call in calls.mutating_calls()
    ]


@pytest.mark.timeout(900)  # seventeen check-and-repair runs; minutes on a loaded machine
def test_plan_lists_exactly_the_tampered_item_and_apply_touches_only_it(
    sandbox_world: Callable[..., Any],
) -> None:
    from flows.check_drift import check_drift, observe_plan
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls

    world, spec = sandbox_world(), _spec()
    setup_load_balancer(spec=spec)
    assert observe_plan(spec)[1].converged

    for name, (tamper, kind) in TAMPERINGS.items():
        tamper(world, spec)
        calls = api_calls()
        # The check plans (and publishes) the drift, remediation applies the same plan, and
        # "repaired" means the plan observed right after apply was empty.
        outputs = check_drift(stack=spec.name, remediate=True)
        planned = {Kind(item.split(" ", 1)[0]) for item in outputs["drifted"]}
        found = planned - CHECKED
        assert {kind} <= found <= {kind} | CARRIED_ON.get(name, set()), (
            name,
            outputs["drifted"],
        )  # (a)
        for operation, serves in _kinds_changed(api_calls().since(calls)):  # (b)
            assert serves & planned, (name, operation, planned)
        assert outputs["status"] == "repaired", (name, outputs)  # (c)

    calls, objects = api_calls(), _versions(world)
    setup_load_balancer(spec=spec)
    assert api_calls().since(calls).mutating_calls() == ()
    assert _versions(world) == objects
