"""The Gateway front door's task functions against the sandbox world: apply, wait until the
stand-in controller programmed the Gateway (or stop with the reason), observe, delete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import KubernetesError, OwnershipError
from core.gateway import GatewayNames, configure_gateway, gateway_params
from sandbox.albcontroller import deploy
from sandbox.world import World, WorldOptions
from tasks.k8s.clients import KubeTarget
from tasks.k8s.gateway import (
    delete_gateway,
    ensure_gateway,
    observe_gateway,
    request_gateway_reconcile,
    wait_for_gateway,
)
from tasks.k8s.gateway_api import ensure_gateway_api
from tasks.k8s.manifests import gateway_source
from tests.sandbox.alb_world import admin, eventually, issued_certificate, store
from tests.sandbox.gateway_world import BUNDLED_GATES, CRDS, controller_deployment, kubectl, spec

NS = "istio-system"
GATEWAY = ("gateway.networking.k8s.io/v1", "Gateway")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A world whose stand-in runs a Helm-like v3.5.0 controller; ALBs turn active at once."""
    options = WorldOptions(
        account_id="311111110062",
        controller="preinstalled",
        alb_delay=0.0,
        acm_delay=0.0,
        dns_delay=0.0,
        deployment_ready_delay=0.05,
        poll_interval=0.05,
        gateway_status_requeue=0.1,
    )
    started = World(Path(tmp_path_factory.mktemp("gw-tasks")), options)
    started.start()
    yield started
    started.stop()


@pytest.fixture
def target(world: World, monkeypatch: pytest.MonkeyPatch) -> KubeTarget:
    for name, value in {
        "KUBECONFIG": world.env["KUBECONFIG"],
        "KFALB_POLL_INTERVAL_SECONDS": "0.05",
        "KFALB_POLL_MAX_INTERVAL_SECONDS": "0.2",
        "KFALB_GATEWAY_TIMEOUT_SECONDS": "30",
        "KFALB_GATEWAY_FAILURE_GRACE_SECONDS": "1",
        "KFALB_CLEANUP_TIMEOUT_SECONDS": "30",
        "KFALB_CONTROLLER_TIMEOUT_SECONDS": "30",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KFALB_KUBE_CONTEXT", raising=False)
    return KubeTarget.kubeconfig()


@pytest.fixture(scope="module")
def served(world: World) -> None:
    """The controller's CRDs (as Helm's chart installs them), the Gateway API CRDs installed by
    the task, and the controller upgraded to v3.5.0, which detects them when it starts."""
    kubectl(world, "apply", "--server-side", "-f", str(CRDS[1]))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KUBECONFIG", world.env["KUBECONFIG"])
        ensure_gateway_api.fn(KubeTarget.kubeconfig(), stack="someone")
    controller_deployment(world, BUNDLED_GATES)


def objects(world: World, name: str, **alb: Any) -> list[dict[str, Any]]:
    sub = f"{name}.example.com"
    certificate = issued_certificate(world, f"*.{sub}")
    stack_spec = spec(sub, ingressName=name, alb=alb)
    return configure_gateway(gateway_source(), gateway_params(stack_spec, (certificate,)))


def stack_of(name: str) -> str:
    return f"{name}-example-com"


def balancers(world: World, name: str) -> list[dict[str, Any]]:
    found = deploy.find_stack(admin(world), cluster="kubeflow", stack_id=f"{NS}/{name}",
                              stack_tag="gateway.k8s.aws.alb/stack")  # fmt: skip
    return found.load_balancers


def test_apply_wait_observe_delete(world: World, target: KubeTarget, served: None) -> None:
    names = GatewayNames(gateway="tk-one")
    made = objects(world, "tk-one")
    outcome = ensure_gateway.fn(target, made, stack=stack_of("tk-one"))
    assert outcome.state.gateway is not None
    assert outcome.state.gateway.owned_by(stack_of("tk-one"))
    first = outcome.applied
    # (The cluster's GatewayClass may exist already: another test's stack made it.)
    assert [k for k in first.of("created") if not k.startswith("GatewayClass")] == [
        "TargetGroupConfiguration istio-system/tk-one",
        "LoadBalancerConfiguration istio-system/tk-one",
        "Gateway istio-system/tk-one",
        "HTTPRoute istio-system/tk-one",
        "HTTPRoute istio-system/tk-one-http-redirect",
    ]
    door = wait_for_gateway.fn(target, names)
    assert door.gateway is not None
    (balancer,) = balancers(world, "tk-one")
    assert door.gateway.hostname == balancer["DNSName"].lower()
    assert door.gateway.condition("Programmed").message == balancer["LoadBalancerArn"]  # type: ignore[union-attr]

    again = ensure_gateway.fn(target, made, stack=stack_of("tk-one"), names=names).applied
    assert again.of("created") == again.of("changed") == ()

    seen = observe_gateway.fn(target, names)
    assert seen.load_balancer_configuration is not None
    assert (
        "gateway.k8s.aws/loadbalancerconfigurations" in seen.load_balancer_configuration.finalizers
    )
    assert {route.name for route in seen.routes} == {"tk-one", "tk-one-http-redirect"}

    assert delete_gateway.fn(target, stack=stack_of("tk-one"), names=names) is True
    assert balancers(world, "tk-one") == []
    gone = observe_gateway.fn(target, names)
    assert (gone.gateway, gone.routes, gone.load_balancer_configuration) == (None, (), None)
    assert gone.gateway_class is not None  # the cluster's class stays for other stacks
    assert delete_gateway.fn(target, stack=stack_of("tk-one"), names=names) is False


def test_a_missing_configuration_stops_the_wait_with_its_reason(
    world: World, target: KubeTarget, served: None
) -> None:
    made = [o for o in objects(world, "tk-two") if o["kind"] != "LoadBalancerConfiguration"]
    ensure_gateway.fn(target, made, stack=stack_of("tk-two"))
    with pytest.raises(KubernetesError) as caught:
        wait_for_gateway.fn(target, GatewayNames(gateway="tk-two"))
    assert (
        "Gateway istio-system/tk-two: Accepted=False (Invalid: loadbalancerconfigurations"
        '.gateway.k8s.aws "tk-two" not found)'
    ) in caught.value.message
    delete_gateway.fn(target, stack=stack_of("tk-two"), names=GatewayNames(gateway="tk-two"))


def test_a_deploy_error_the_controller_retries_stops_the_wait_after_the_grace(
    world: World, target: KubeTarget, served: None
) -> None:
    made = objects(world, "tk-three")
    missing = "arn:aws:acm:us-west-2:311111110062:certificate/00000000-0000-0000-0000-000000000000"
    for obj in made:
        if obj["kind"] == "LoadBalancerConfiguration":
            obj["spec"]["listenerConfigurations"][0]["defaultCertificate"] = missing
    ensure_gateway.fn(target, made, stack=stack_of("tk-three"))
    with pytest.raises(KubernetesError) as caught:
        wait_for_gateway.fn(target, GatewayNames(gateway="tk-three"))
    message = caught.value.message
    assert "Accepted=False (Invalid: Check Gateway Events for more information.)" in message
    assert "FailedDeployModel: Failed deploy model due to operation error" in message
    assert "CertificateNotFound" in message
    delete_gateway.fn(target, stack=stack_of("tk-three"), names=GatewayNames(gateway="tk-three"))


def test_a_route_to_a_missing_service_stops_the_wait(
    world: World, target: KubeTarget, served: None
) -> None:
    made = objects(world, "tk-four")
    for obj in made:
        if obj["kind"] == "HTTPRoute" and obj["metadata"]["name"] == "tk-four":
            obj["spec"]["rules"][0]["backendRefs"][0]["name"] = "istio-gateway-typo"
    ensure_gateway.fn(target, made, stack=stack_of("tk-four"))
    with pytest.raises(KubernetesError) as caught:
        wait_for_gateway.fn(target, GatewayNames(gateway="tk-four"))
    assert (
        "HTTPRoute istio-system/tk-four (parent tk-four/https): ResolvedRefs=False "
        "(BackendNotFound: Service (istio-system:istio-gateway-typo) not found))"
    ) in caught.value.message
    delete_gateway.fn(target, stack=stack_of("tk-four"), names=GatewayNames(gateway="tk-four"))


def test_objects_of_another_stack_are_neither_changed_nor_deleted(
    world: World, target: KubeTarget, served: None
) -> None:
    made = objects(world, "tk-five")
    ensure_gateway.fn(target, made, stack=stack_of("tk-five"))
    with pytest.raises(OwnershipError):
        ensure_gateway.fn(target, made, stack="another-stack")
    with pytest.raises(OwnershipError):
        delete_gateway.fn(target, stack="another-stack", names=GatewayNames(gateway="tk-five"))
    assert store(world).find(*GATEWAY, "tk-five", NS) is not None
    delete_gateway.fn(target, stack=stack_of("tk-five"), names=GatewayNames(gateway="tk-five"))


def test_a_reconcile_request_puts_a_tampered_alb_back(
    world: World, target: KubeTarget, served: None
) -> None:
    names = GatewayNames(gateway="tk-six")
    ensure_gateway.fn(target, objects(world, "tk-six"), stack=stack_of("tk-six"))
    wait_for_gateway.fn(target, names)
    (balancer,) = balancers(world, "tk-six")
    assert world.aws is not None
    elbv2 = world.aws.client("elbv2")
    (https,) = [
        item
        for item in elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])[
            "Listeners"
        ]
        if item["Port"] == 443
    ]
    elbv2.modify_listener(ListenerArn=https["ListenerArn"], SslPolicy="ELBSecurityPolicy-2016-08")
    request_gateway_reconcile.fn(target, stamp="2026-12-07T10:00:00Z", names=names)

    def policy() -> str:
        found = elbv2.describe_listeners(ListenerArns=[https["ListenerArn"]])["Listeners"][0]
        return str(found["SslPolicy"])

    eventually(lambda: policy() == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09")
    delete_gateway.fn(target, stack=stack_of("tk-six"), names=names)
