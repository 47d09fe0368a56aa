"""Several stacks on one cluster, against the sandbox: a second stack that would take the first
one's Ingress fails before anything is created; two stacks in one IngressGroup share one ALB."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import StackSpec, load_spec

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"


def _spec(name: str, subdomain: str, **stack: Any) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"].update(name=name, **stack)
    data["route53"]["subDomain"]["name"] = subdomain
    return StackSpec.model_validate(data)


def _zones(world: Any) -> set[str]:
    zones = world.aws.client("route53").list_hosted_zones()["HostedZones"]
    return {zone["Name"].rstrip(".") for zone in zones}


def _kube_version(world: Any) -> str:
    return str(world.kube.store.resource_version)


def _dashboard_answers(spec: StackSpec) -> None:
    from core.settings import get_settings
    from tasks.https import probe

    answer = probe(spec.dashboard_host, get_settings())
    assert answer.ok, answer.describe()


def test_a_second_stack_taking_the_first_ones_ingress_fails_before_creating_anything(
    sandbox_world: Callable[..., Any],
) -> None:
    from core.errors import PreflightError
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls

    world = sandbox_world(controller="preinstalled")
    first = _spec("stack-a", "platform.example.com")
    setup_load_balancer(spec=first)
    second = _spec("stack-b", "team2.example.com")  # the default Ingress name: stack-a's
    zones, version, calls = _zones(world), _kube_version(world), api_calls()
    with pytest.raises(PreflightError) as raised:
        setup_load_balancer(spec=second)
    message = raised.value.message
    assert "Ingress istio-system/istio-ingress belongs to kubeflow-alb stack 'stack-a'" in message
    assert "nothing was created" in message
    assert api_calls().since(calls).mutating_calls() == ()
    assert _zones(world) == zones  # no zone for team2.example.com
    assert "team2.example.com" not in zones
    assert _kube_version(world) == version  # no write to the Kubernetes API either


def test_two_stacks_in_one_ingress_group_share_one_alb_and_both_check_clean(
    sandbox_world: Callable[..., Any],
) -> None:
    from flows.check_drift import check_drift
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world(controller="preinstalled")
    first = _spec("stack-a", "platform.example.com", ingressGroup="kubeflow")
    second = _spec("stack-b", "team2.example.com", ingressName="team2", ingressGroup="kubeflow")
    one = setup_load_balancer(spec=first)
    two = setup_load_balancer(spec=second)

    (balancer,) = world.aws.client("elbv2").describe_load_balancers()["LoadBalancers"]
    assert one["load_balancer"] == two["load_balancer"] == balancer["LoadBalancerArn"]
    store = world.kube.store
    for name in ("istio-ingress", "team2"):
        ingress = store.get("networking.k8s.io/v1", "Ingress", name, "istio-system")
        annotations = ingress["metadata"]["annotations"]
        assert annotations["alb.ingress.kubernetes.io/group.name"] == "kubeflow"
    _dashboard_answers(first)
    _dashboard_answers(second)
    # Each stack compares only its share of the shared ALB: both are clean.
    assert check_drift(stack=first.name)["status"] == "ok"
    assert check_drift(stack=second.name)["status"] == "ok"
