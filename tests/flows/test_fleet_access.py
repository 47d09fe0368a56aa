"""The fleet drift check reaches each stack with the access its record names, and counts each
stack's AWS calls apart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import StackSpec, load_spec
from core.state import StackAccess

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"


def _spec(name: str, subdomain: str) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"]["name"] = name
    data["route53"]["subDomain"]["name"] = subdomain
    return StackSpec.model_validate(data)


def test_recorded_access_wins_over_the_fleets_parameters() -> None:
    from flows.check_drift import stack_access

    recorded = StackAccess(credentials_block="team-b", region="eu-west-1", account="2",
                           kube_access="eks", kube_context=None)  # fmt: skip
    assert stack_access(recorded, credentials_block="fleet", kube_access="kubeconfig") == recorded
    fallback = stack_access(None, credentials_block="fleet", kube_access="kubeconfig")
    assert (fallback.credentials_block, fallback.kube_access) == ("fleet", "kubeconfig")


def test_fleet_checks_each_stack_with_its_own_access_and_counts_its_calls(
    sandbox_world: Callable[..., Any],
) -> None:
    from core.errors import DriftDetected
    from flows.check_drift import check_drift_fleet
    from tasks.stack_block import StackStore

    sandbox_world(controller="preinstalled")
    # Two saved stacks, never set up: each drift check finds every item missing. Stack b's
    # record names a kubeconfig context that does not exist: its check must use it, and fail.
    for name, sub, context in (("fleet-a", "a.example.com", "sandbox"),
                               ("fleet-b", "b.example.com", "no-such-context")):  # fmt: skip
        spec = _spec(name, sub)
        store = StackStore.open(name, spec.model_dump(mode="json", by_alias=True))
        store.set_phase("new", access=StackAccess(region=spec.region, kube_context=context))
    with pytest.raises(DriftDetected) as raised:
        check_drift_fleet(max_concurrent=1)
    message = raised.value.message
    assert "fleet-a: drifted:" in message
    assert "fleet-b: error:" in message
    assert "no-such-context" in message
