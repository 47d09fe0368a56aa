"""The ALB controller stand-in serving Gateways as v3.5.0 does: kubeflow-alb's Gateway objects
applied by real kubectl become an ALB in moto with the Ingress path's listeners, redirect,
certificates, TLS policy, health check, attributes and tags; status, events and deletion.

Each test drives the stand-in with `reconcile_once`; the ALB turns active only when a test says.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.alb_facts import facts_fields
from core.alb_observed import observed_alb
from core.gateway_alb import desired_alb_from_gateway
from core.plan import PRESENT
from sandbox.alb_controller import AlbControllerStandIn
from sandbox.albcontroller import deploy
from sandbox.world import World
from tasks.aws.elbv2 import read_load_balancer
from tests.sandbox.alb_world import admin, eventually, issued_certificate, store, warnings
from tests.sandbox.gateway_world import (
    BUNDLED_GATES,
    CLASS,
    GATEWAY,
    LBC,
    ROUTE,
    TGC,
    apply,
    condition,
    controller_deployment,
    gateway_objects,
    install_crds,
    spec,
    start_world,
)

NS = "istio-system"
DROP = "routing.http.drop_invalid_header_fields.enabled"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    started = start_world(Path(tmp_path_factory.mktemp("gw")), "311111110053", alb_delay=3600)
    install_crds(started)
    controller_deployment(started, BUNDLED_GATES)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def controller(world: World) -> AlbControllerStandIn:
    """A Helm-like v3.5.0 controller (every AWS right), started after the CRDs."""
    assert world.aws is not None
    return AlbControllerStandIn(
        kubeconfig=world.env["KUBECONFIG"],
        aws_env=world.aws.env(),
        cluster_name="kubeflow",
        mode="preinstalled",
        interval=0.02,
        max_backoff=0.1,
        gateway_status_requeue=0.05,
    )


@pytest.fixture(autouse=True)
def forget_gateways(world: World) -> Iterator[None]:
    """Each test starts without the Gateways of others (their ALBs and finalizers go)."""
    yield
    kube = store(world)
    for kind in (GATEWAY, ROUTE, LBC, TGC):
        for obj in kube.list(*kind, NS):
            name = obj["metadata"]["name"]
            if obj["metadata"].get("finalizers"):
                obj["metadata"]["finalizers"] = []
                kube.update(obj)
            kube.delete(*kind, name, NS)
            if kind == GATEWAY:
                deploy.delete_stack(admin(world), cluster="kubeflow", stack_id=f"{NS}/{name}",
                                    stack_tag="gateway.k8s.aws.alb/stack")  # fmt: skip


def get(world: World, kind: tuple[str, str], name: str, namespace: str = NS) -> dict[str, Any]:
    return store(world).find(*kind, name, namespace if kind != CLASS else "") or {}


def stack(world: World, name: str) -> deploy.Found:
    return deploy.find_stack(
        admin(world),
        cluster="kubeflow",
        stack_id=f"{NS}/{name}",
        stack_tag="gateway.k8s.aws.alb/stack",
    )


def activate(world: World, name: str) -> str:
    (balancer,) = stack(world, name).load_balancers
    assert world.aws is not None
    world.aws.set_load_balancer_state(balancer["LoadBalancerArn"], "active")
    return str(balancer["LoadBalancerArn"])


def programmed(world: World, controller: AlbControllerStandIn, name: str) -> dict[str, Any]:
    def look() -> dict[str, Any] | None:
        controller.reconcile_once()
        gateway = get(world, GATEWAY, name)
        return gateway if condition(gateway, "Programmed").get("status") == "True" else None

    return eventually(look)


def setup_gateway(world: World, controller: AlbControllerStandIn, name: str, **alb: Any) -> Any:
    sub = f"{name}.example.com"
    certificates = (
        issued_certificate(world, f"*.{sub}"),
        issued_certificate(world, "*.example.com"),
    )
    stack_spec = spec(sub, ingressName=name, alb=alb)
    objects = gateway_objects(stack_spec, certificates)
    apply(world, objects)
    controller.reconcile_once(force=True)
    return objects, certificates


def test_the_gateway_becomes_the_ingress_paths_alb(
    world: World, controller: AlbControllerStandIn
) -> None:
    objects, certificates = setup_gateway(world, controller, "gw-one", inboundCidrs=["10.0.0.0/8"])

    klass = get(world, CLASS, "kubeflow-alb")
    assert "gateway.k8s.aws/gatewayclass" in klass["metadata"]["finalizers"]
    assert condition(klass, "Accepted") | {"lastTransitionTime": None} == {
        "type": "Accepted", "status": "True", "reason": "Accepted", "message": "Accepted",
        "observedGeneration": 1, "lastTransitionTime": None,
    }  # fmt: skip
    assert (
        "gateway.k8s.aws/loadbalancerconfigurations"
        in get(world, LBC, "gw-one")["metadata"]["finalizers"]
    )
    assert (
        "gateway.k8s.aws/targetgroupconfigurations"
        in get(world, TGC, "gw-one")["metadata"]["finalizers"]
    )
    gateway = get(world, GATEWAY, "gw-one")
    assert gateway["metadata"]["finalizers"] == ["gateway.k8s.aws/alb"]
    # While AWS provisions the ALB: Programmed Unknown, and the real one's requeue warning.
    assert condition(gateway, "Accepted")["status"] == "True"
    assert condition(gateway, "Programmed") | {"lastTransitionTime": None} == {
        "type": "Programmed", "status": "Unknown", "reason": "Pending",
        "message": "Waiting for load balancer to be active.", "observedGeneration": 1,
        "lastTransitionTime": None,
    }  # fmt: skip
    assert "FailedUpdateStatus: Failed update status due to requeue needed after 50ms: " in (
        " ".join(warnings(world, NS))
    )

    arn = activate(world, "gw-one")
    gateway = programmed(world, controller, "gw-one")
    assert condition(gateway, "Programmed")["message"] == arn
    (balancer,) = stack(world, "gw-one").load_balancers
    assert gateway["status"]["addresses"] == [
        {"type": "Hostname", "value": balancer["DNSName"].lower()}
    ]
    listeners = {item["name"]: item for item in gateway["status"]["listeners"]}
    assert listeners["https"]["attachedRoutes"] == 1
    assert {c["type"]: c["status"] for c in listeners["http"]["conditions"]} == {
        "Conflicted": "False", "Accepted": "True", "ResolvedRefs": "True", "Programmed": "True",
    }  # fmt: skip
    for route in ("gw-one", "gw-one-http-redirect"):
        (parent,) = get(world, ROUTE, route)["status"]["parents"]
        assert parent["controllerName"] == "gateway.k8s.aws/alb"
        assert [(c["type"], c["status"], c["reason"]) for c in parent["conditions"]] == [
            ("ResolvedRefs", "True", "ResolvedRefs"),
            ("Accepted", "True", "Accepted"),
        ]

    # The ALB in moto, read as the drift check reads it, has every declared field.
    assert world.aws is not None
    state = read_load_balancer(world.aws.client("elbv2"), arn=arn)
    assert state is not None
    desired = facts_fields(desired_alb_from_gateway(objects, cluster="kubeflow", target_port=8080))
    observed = facts_fields(observed_alb(state))
    # (The security group's sources and the WAF association are read on request: below.)
    unread = {"inbound-cidrs", "waf-acl"}
    wrong = {
        k: (v, observed.get(k))
        for k, v in desired.items()
        if k not in unread and v not in (observed.get(k), PRESENT)
    }
    assert wrong == {}
    assert observed["listener HTTP:80 rules"] == (
        "1 host-header=*.gw-one.example.com path-pattern=/* -> redirect HTTPS:443 HTTP_301"
    )
    assert observed["listener HTTPS:443 certificate"] == certificates[0]
    assert observed["listener HTTPS:443 ssl-policy"] == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    assert observed["target-group health-check port"] == "15021"
    assert observed[f"attribute {DROP}"] == "true"
    assert observed["tag kubeflow-alb/stack"] == "gw-one-example-com"
    # The managed security group admits only the configured client CIDRs on both listeners.
    (group,) = [g for g in stack(world, "gw-one").security_groups
                if {"Key": "gateway.k8s.aws.alb/resource", "Value": "ManagedLBSecurityGroup"} in g["Tags"]]  # fmt: skip
    assert sorted((p["FromPort"], r["CidrIp"]) for p in group["IpPermissions"] for r in p["IpRanges"]) == [
        (80, "10.0.0.0/8"), (443, "10.0.0.0/8"),
    ]  # fmt: skip


def test_a_route_to_a_missing_service_answers_500_and_says_why(
    world: World, controller: AlbControllerStandIn
) -> None:
    objects, _ = setup_gateway(world, controller, "gw-two")
    route = next(
        o for o in objects if o["kind"] == "HTTPRoute" and o["metadata"]["name"] == "gw-two"
    )
    route["spec"]["rules"][0]["backendRefs"][0]["name"] = "no-such-service"
    apply(world, [route])
    controller.reconcile_once(force=True)
    (parent,) = get(world, ROUTE, "gw-two")["status"]["parents"]
    assert [(c["type"], c["status"], c["reason"], c["message"]) for c in parent["conditions"]] == [
        ("ResolvedRefs", "False", "BackendNotFound", f"Service ({NS}:no-such-service) not found)"),
        ("Accepted", "True", "Accepted", ""),
    ]
    assert world.aws is not None
    (balancer,) = stack(world, "gw-two").load_balancers
    state = read_load_balancer(world.aws.client("elbv2"), arn=balancer["LoadBalancerArn"])
    assert state is not None
    rules = facts_fields(observed_alb(state))["listener HTTPS:443 rules"]
    assert (
        rules
        == "1 host-header=*.gw-two.example.com path-pattern=/* -> fixed-response 500 text/plain"
    )


def test_a_missing_configuration_is_refused_with_the_real_reason(
    world: World, controller: AlbControllerStandIn
) -> None:
    sub = "gw-three.example.com"
    objects = gateway_objects(
        spec(sub, ingressName="gw-three"), (issued_certificate(world, f"*.{sub}"),)
    )
    apply(world, [o for o in objects if o["kind"] != "LoadBalancerConfiguration"])
    controller.reconcile_once(force=True)
    accepted = condition(get(world, GATEWAY, "gw-three"), "Accepted")
    assert (accepted["status"], accepted["reason"], accepted["message"]) == (
        "False", "Invalid", 'loadbalancerconfigurations.gateway.k8s.aws "gw-three" not found',
    )  # fmt: skip
    assert stack(world, "gw-three").load_balancers == []
    assert not get(world, GATEWAY, "gw-three")["metadata"].get("finalizers")


def test_a_certificate_aws_refuses_fails_the_deploy_with_its_event(
    world: World, controller: AlbControllerStandIn
) -> None:
    sub = "gw-four.example.com"
    missing = "arn:aws:acm:us-west-2:311111110053:certificate/00000000-0000-0000-0000-000000000000"
    apply(world, gateway_objects(spec(sub, ingressName="gw-four"), (missing,)))
    controller.reconcile_once(force=True)
    accepted = condition(get(world, GATEWAY, "gw-four"), "Accepted")
    assert (accepted["status"], accepted["reason"], accepted["message"]) == (
        "False", "Invalid", "Check Gateway Events for more information.",
    )  # fmt: skip
    failed = [w for w in warnings(world, NS) if w.startswith("FailedDeployModel: ")]
    assert any("Failed deploy model due to operation error Elastic Load Balancing v2: CreateListener" in w
               and "CertificateNotFound" in w for w in failed), failed  # fmt: skip


def test_deleting_the_gateway_removes_its_alb_then_the_finalizers(
    world: World, controller: AlbControllerStandIn
) -> None:
    setup_gateway(world, controller, "gw-five", deletionProtection=False)  # else it stays (below)
    assert stack(world, "gw-five").load_balancers
    kube = store(world)
    kube.delete(*GATEWAY, "gw-five", NS)
    # Its configuration is in use until the controller let the Gateway go.
    kube.delete(*LBC, "gw-five", NS)
    assert get(world, LBC, "gw-five")["metadata"].get("deletionTimestamp")
    controller.reconcile_once(force=True)
    controller.reconcile_once(force=True)
    assert get(world, GATEWAY, "gw-five") == {}
    found = stack(world, "gw-five")
    assert (found.load_balancers, found.target_groups, found.security_groups) == ([], [], [])
    eventually(lambda: controller.reconcile_once(force=True) or get(world, LBC, "gw-five") == {})


def test_deletion_protection_keeps_the_gateway_and_says_so(
    world: World, controller: AlbControllerStandIn
) -> None:
    objects, _ = setup_gateway(world, controller, "gw-six")
    lbc = next(o for o in objects if o["kind"] == "LoadBalancerConfiguration")
    lbc["spec"]["loadBalancerAttributes"].append(
        {"key": "deletion_protection.enabled", "value": "true"}
    )
    apply(world, [lbc])
    controller.reconcile_once(force=True)
    store(world).delete(*GATEWAY, "gw-six", NS)
    controller.reconcile_once(force=True)
    assert get(world, GATEWAY, "gw-six")["metadata"]["finalizers"] == ["gateway.k8s.aws/alb"]
    assert stack(world, "gw-six").load_balancers
    assert (
        f"FailedBuildModel: Failed build model due to Unable to delete gateway {NS}/gw-six because "
        "deletion protection is enabled."
    ) in warnings(world, NS)
    # As with an Ingress: turning protection off on the terminating Gateway's configuration
    # lets the controller delete it.
    lbc["spec"]["loadBalancerAttributes"] = [
        {"key": "deletion_protection.enabled", "value": "false"}
    ]
    apply(world, [lbc])
    controller.reconcile_once(force=True)
    assert get(world, GATEWAY, "gw-six") == {}
    assert stack(world, "gw-six").load_balancers == []
