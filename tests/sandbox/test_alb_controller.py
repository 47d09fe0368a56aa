"""The ALB controller stand-in on a sandbox world: presence, provisioning, changes and deletion.

Each test drives a stand-in of its own with `reconcile_once`, so nothing depends on timing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.alb_controller import AlbControllerStandIn
from sandbox.world import World
from tests.sandbox.alb_world import (
    clean_up,
    controller_deployment,
    events,
    get_ingress,
    hostname,
    issued_certificate,
    make_ingress,
    new_namespace,
    stack,
    stand_in,
    start_world,
    store,
    warnings,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    started = start_world(Path(tmp_path_factory.mktemp("alb")), "311111110031")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def auto(world: World) -> AlbControllerStandIn:
    """An EKS Auto Mode controller, shared by the tests (a restart test makes its own)."""
    return stand_in(world, "auto-mode")


@pytest.fixture
def ns(world: World, request: pytest.FixtureRequest) -> Iterator[str]:
    name = new_namespace(world, request.node.name)
    yield name
    clean_up(world, name)


def test_without_a_controller_an_alb_ingress_gets_nothing(world: World, ns: str) -> None:
    make_ingress(world, ns, certificate_arn=issued_certificate(world, "*.a.example.com"))
    stand_in(world, "none").reconcile_once(force=True)
    # "preinstalled" models a Helm install: without its Deployment there is no controller either.
    stand_in(world, "preinstalled").reconcile_once(force=True)
    # The Auto Mode class is served by nobody unless the cluster runs Auto Mode.
    make_ingress(world, ns, ingress_class="alb-auto")
    stand_in(world, "none").reconcile_once(force=True)
    ingress = get_ingress(world, ns)
    assert ingress is not None
    assert hostname(world, ns) is None
    assert not ingress["metadata"].get("finalizers")
    assert events(world, ns) == []
    assert stack(world, ns).load_balancers == []


def test_helm_controller_provisions_the_alb_like_the_real_one(world: World, ns: str) -> None:
    certificate = issued_certificate(world, "*.b.example.com")
    make_ingress(world, ns, certificate_arn=certificate)
    controller_deployment(world)
    stand_in(world, "preinstalled").reconcile_once(force=True)

    found = stack(world, ns)
    (balancer,) = found.load_balancers
    assert re.fullmatch(
        rf"k8s-{ns.replace('-', '')[:8]}-app-[0-9a-f]{{10}}", balancer["LoadBalancerName"]
    )
    assert balancer["Scheme"] == "internet-facing"
    assert balancer["State"]["Code"] == "provisioning"  # AWS turns it active minutes later
    assert balancer["Tags"] == {
        "elbv2.k8s.aws/cluster": "kubeflow",
        "ingress.k8s.aws/stack": f"{ns}/app",
        "ingress.k8s.aws/resource": "LoadBalancer",
        "kubeflow-alb/stack": "demo",
        "team": "ml",
    }
    (target_group,) = found.target_groups
    assert (target_group["TargetType"], target_group["Port"]) == ("ip", 8080)
    assert target_group["Tags"]["ingress.k8s.aws/resource"] == f"{ns}/app-web:80"
    assert target_group["Tags"]["kubeflow-alb/stack"] == "demo"
    (group,) = found.security_groups
    assert {t["Key"]: t["Value"] for t in group["Tags"]}["kubeflow-alb/stack"] == "demo"
    assert group["GroupId"] in balancer["SecurityGroups"]

    elbv2 = world.aws.client("elbv2")  # type: ignore[union-attr]
    listeners = {
        item["Port"]: item
        for item in elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])[
            "Listeners"
        ]
    }
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["Certificates"] == [{"CertificateArn": certificate}]
    assert listeners[80]["DefaultActions"][0]["RedirectConfig"]["Port"] == "443"
    (rule,) = [
        r
        for r in elbv2.describe_rules(ListenerArn=listeners[443]["ListenerArn"])["Rules"]
        if not r["IsDefault"]
    ]
    assert rule["Actions"][0]["TargetGroupArn"] == target_group["TargetGroupArn"]

    ingress = get_ingress(world, ns)
    assert ingress is not None
    assert ingress["metadata"]["finalizers"] == ["ingress.k8s.aws/resources"]
    assert hostname(world, ns) == balancer["DNSName"]
    assert ingress["status"]["loadBalancer"]["ingress"][0]["ports"] == [
        {"port": 80, "protocol": ""},
        {"port": 443, "protocol": ""},
    ]
    assert ("Normal", "SuccessfullyReconciled", "Successfully reconciled", 1) in events(world, ns)


def test_auto_mode_serves_its_class_without_a_deployment(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    make_ingress(
        world,
        ns,
        ingress_class="alb-auto",
        certificate_arn=issued_certificate(world, "*.c.example.com"),
    )
    auto.reconcile_once()
    (balancer,) = stack(world, ns).load_balancers
    assert hostname(world, ns) == balancer["DNSName"]


def test_certificate_changes_follow_the_annotation(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    first, second, third = (
        issued_certificate(world, f"*.{n}.example.com") for n in ("d", "e", "f")
    )
    make_ingress(world, ns, ingress_class="alb-auto", certificate_arn=first)
    auto.reconcile_once()
    make_ingress(world, ns, ingress_class="alb-auto", certificate_arn=f"{second},{third}")
    auto.reconcile_once()  # the annotation changed the resourceVersion: due at once
    (balancer,) = stack(world, ns).load_balancers
    elbv2 = world.aws.client("elbv2")  # type: ignore[union-attr]
    https = next(
        item
        for item in elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])[
            "Listeners"
        ]
        if item["Port"] == 443
    )
    assert https["Certificates"] == [{"CertificateArn": second}]
    listed = elbv2.describe_listener_certificates(ListenerArn=https["ListenerArn"])["Certificates"]
    assert {c["CertificateArn"] for c in listed if not c.get("IsDefault")} == {third}


def test_a_certificate_not_issued_is_a_warning_and_no_address(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    acm = world.aws.client("acm")  # type: ignore[union-attr]
    pending = acm.request_certificate(DomainName="*.g.example.com", ValidationMethod="DNS")[
        "CertificateArn"
    ]
    make_ingress(world, ns, ingress_class="alb-auto", certificate_arn=pending)
    auto.reconcile_once()
    auto.reconcile_once(force=True)
    (warning,) = warnings(world, ns)
    assert warning.startswith(
        "FailedDeployModel: Failed deploy model due to operation error Elastic Load Balancing v2: CreateListener"
    )
    assert f"CertificateNotFound: Certificate '{pending}' not found" in warning
    (kind, reason, _, count), *_ = [e for e in events(world, ns) if e[0] == "Warning"]
    assert count == 2  # the same failure again is the same Event, counted
    assert hostname(world, ns) is None


def test_a_missing_backend_service_fails_the_build(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    store(world).delete("v1", "Service", "web", ns)
    make_ingress(
        world,
        ns,
        ingress_class="alb-auto",
        certificate_arn=issued_certificate(world, "*.h.example.com"),
    )
    auto.reconcile_once()
    assert warnings(world, ns) == [
        f'FailedBuildModel: Failed build model due to ingress: {ns}/app: services "web" not found'
    ]
    assert stack(world, ns).load_balancers == []


def test_deletion_removes_everything_then_the_finalizer(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    make_ingress(
        world,
        ns,
        ingress_class="alb-auto",
        certificate_arn=issued_certificate(world, "*.i.example.com"),
    )
    auto.reconcile_once()
    assert stack(world, ns).load_balancers
    store(world).delete("networking.k8s.io/v1", "Ingress", "app", ns)
    assert get_ingress(world, ns) is not None  # held by the finalizer
    auto.reconcile_once()
    assert get_ingress(world, ns) is None
    found = stack(world, ns)
    assert (found.load_balancers, found.target_groups, found.security_groups) == ([], [], [])


def test_a_restarted_controller_adopts_its_alb(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    make_ingress(
        world,
        ns,
        ingress_class="alb-auto",
        certificate_arn=issued_certificate(world, "*.j.example.com"),
    )
    auto.reconcile_once()
    (before,) = stack(world, ns).load_balancers
    stand_in(world, "auto-mode").reconcile_once(force=True)
    (after,) = stack(world, ns).load_balancers
    assert after["LoadBalancerArn"] == before["LoadBalancerArn"]
    assert len(stack(world, ns).target_groups) == 1


def test_a_scheme_change_replaces_the_alb(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    certificate = issued_certificate(world, "*.k.example.com")
    make_ingress(world, ns, ingress_class="alb-auto", certificate_arn=certificate)
    auto.reconcile_once()
    (public,) = stack(world, ns).load_balancers
    make_ingress(
        world, ns, ingress_class="alb-auto", certificate_arn=certificate, scheme="internal"
    )
    auto.reconcile_once()
    (internal,) = stack(world, ns).load_balancers
    assert internal["Scheme"] == "internal"
    assert internal["LoadBalancerName"] != public["LoadBalancerName"]
    assert hostname(world, ns) == internal["DNSName"]
    assert internal["DNSName"].startswith("internal-")
    seeded = world.seeded
    assert seeded is not None
    zones = {z["SubnetId"] for z in internal["AvailabilityZones"]}
    assert zones == set(seeded.private_subnet_ids)  # no role tags: chosen by route tables


def test_an_ingress_moved_to_another_class_loses_its_alb_and_finalizer(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    certificate = issued_certificate(world, "*.l.example.com")
    make_ingress(world, ns, ingress_class="alb-auto", certificate_arn=certificate)
    auto.reconcile_once()
    assert stack(world, ns).load_balancers
    make_ingress(world, ns, ingress_class="nginx", certificate_arn=certificate)
    auto.reconcile_once()
    ingress = get_ingress(world, ns)
    assert ingress is not None
    assert not ingress["metadata"].get("finalizers")
    assert stack(world, ns).load_balancers == []
