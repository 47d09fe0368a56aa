"""stack.controllerVersion on the sandbox: a stack set up with v2.17.1 drifts once the spec says
v3.5.0, and setup with the new version moves the controller in place; HTTPS keeps answering."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core import naming
from core.spec import StackSpec, load_spec
from core.state import Kind

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
DEPLOYMENT = ("apps/v1", "Deployment", naming.CONTROLLER_NAME, naming.CONTROLLER_NAMESPACE)
IMAGE = "public.ecr.aws/eks/aws-load-balancer-controller"


def _spec(version: str) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"]["name"] = "lbc-upgrade"  # blocks and artifacts of this test only
    data["stack"]["controllerVersion"] = version
    return StackSpec.model_validate(data)


def _running(world: Any) -> tuple[str, int, set[str]]:
    """The controller Deployment's image, ready replicas, and the webhooks' review versions."""
    deployment = world.kube.store.get(*DEPLOYMENT)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    reviews = {
        version
        for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
        for hook in world.kube.store.get(
            "admissionregistration.k8s.io/v1", kind, "aws-load-balancer-webhook"
        )["webhooks"]
        for version in hook["admissionReviewVersions"]
    }
    ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
    return container["image"], ready, reviews


def _policy_versions(world: Any, stack: StackSpec) -> list[tuple[str, bool]]:
    from core.desired import policy_name

    iam = world.aws.client("iam")
    arn = f"arn:aws:iam::{world.options.account_id}:policy/{policy_name(stack)}"
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    return sorted((v["VersionId"], v["IsDefaultVersion"]) for v in versions)


def test_a_v2_stack_drifts_then_moves_to_v3_in_place(sandbox_world: Callable[..., Any]) -> None:
    from core.errors import DriftDetected
    from core.settings import get_settings
    from flows.check_drift import check_drift, observe_plan
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls
    from tasks.https import probe

    world = sandbox_world()
    v2, v3 = _spec("v2.17.1"), _spec("v3.5.0")
    setup_load_balancer(spec=v2)
    assert _running(world) == (f"{IMAGE}:v2.17.1", 2, {"v1beta1"})
    assert probe(v2.dashboard_host, get_settings()).ok
    policy_before = _policy_versions(world, v2)
    alb_before = world.aws.client("elbv2").describe_load_balancers()["LoadBalancers"]

    # The spec now names v3.5.0: the drift check says what differs, and changes nothing.
    calls = api_calls()
    with pytest.raises(DriftDetected) as drift:
        check_drift(spec=v3)
    assert drift.value.items == ("controller ALB controller (version)",)
    (change,) = observe_plan(v3)[1].drift
    assert change.item.kind is Kind.CONTROLLER
    assert [(d.field, d.expected, d.found) for d in change.differences] == [
        ("version", "v3.5.0", "v2.17.1")
    ]
    assert api_calls().since(calls).mutating_calls() == ()

    # Setup with the new version: the same apply, the controller's objects moved to v3.5.0.
    setup_load_balancer(spec=v3)
    assert _running(world) == (f"{IMAGE}:v3.5.0", 2, {"v1"})
    # v2.17.1 and v3.5.0 publish the same policy document: the default version stays.
    assert _policy_versions(world, v3) == policy_before == [("v1", True)]
    after = observe_plan(v3)[1]
    assert after.converged, [f"{c.item.key}: {c.differences}" for c in after.drift]
    # The ALB is the one the old controller made; the dashboard answers as before.
    alb_after = world.aws.client("elbv2").describe_load_balancers()["LoadBalancers"]
    assert [b["LoadBalancerArn"] for b in alb_after] == [b["LoadBalancerArn"] for b in alb_before]
    assert probe(v3.dashboard_host, get_settings()).ok
    # ...and the old version is now the drift.
    (back,) = observe_plan(v2)[1].drift
    assert [(d.field, d.expected, d.found) for d in back.differences] == [
        ("version", "v2.17.1", "v3.5.0")
    ]
