"""Deletion protection in the sandbox, as strict as AWS and the real controller: ELBv2 refuses to
delete a protected ALB; the controller stand-in applies the attributes of the Ingress's
annotation, keeps a deleted protected Ingress (finalizer and a Warning event) until the
annotation lifts the protection, and removes protection set any other way before deleting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.alb_controller import FINALIZER, AlbControllerStandIn
from sandbox.world import World
from tests.sandbox.alb_world import (
    INGRESS,
    A,
    clean_up,
    get_ingress,
    issued_certificate,
    make_ingress,
    new_namespace,
    stack,
    stand_in,
    start_world,
    store,
    warnings,
)

PROTECTED = (
    "deletion_protection.enabled=true,routing.http.desync_mitigation_mode=strictest,"
    "idle_timeout.timeout_seconds=3600,routing.http.drop_invalid_header_fields.enabled=true"
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    started = start_world(Path(tmp_path_factory.mktemp("protection")), "311111110041")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def auto(world: World) -> AlbControllerStandIn:
    return stand_in(world, "auto-mode")


@pytest.fixture
def ns(world: World, request: pytest.FixtureRequest) -> Iterator[str]:
    name = new_namespace(world, request.node.name)
    yield name
    clean_up(world, name)


def _elbv2(world: World) -> Any:
    assert world.aws is not None
    return world.aws.client("elbv2")


def _attributes(world: World, arn: str) -> dict[str, str]:
    found = _elbv2(world).describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    return {item["Key"]: item["Value"] for item in found}


def _alb(world: World, ns: str, auto: AlbControllerStandIn, attributes: str | None) -> str:
    extra = {"load_balancer_attributes": attributes} if attributes else {}
    certificate = issued_certificate(world, f"*.{ns[-8:]}.example.com")
    make_ingress(world, ns, ingress_class="alb-auto", certificate_arn=certificate, **extra)
    auto.reconcile_once()
    (balancer,) = stack(world, ns).load_balancers
    return str(balancer["LoadBalancerArn"])


def test_the_controller_applies_the_annotated_attributes_and_aws_lists_them(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    arn = _alb(world, ns, auto, PROTECTED)
    found = _attributes(world, arn)
    assert found["deletion_protection.enabled"] == "true"
    assert found["routing.http.desync_mitigation_mode"] == "strictest"
    assert found["idle_timeout.timeout_seconds"] == "3600"
    assert found["routing.http.drop_invalid_header_fields.enabled"] == "true"
    # Changed out of band, they are put back by the next reconcile of the Ingress.
    _elbv2(world).modify_load_balancer_attributes(
        LoadBalancerArn=arn,
        Attributes=[{"Key": "routing.http.desync_mitigation_mode", "Value": "monitor"}],
    )
    auto.reconcile_once(force=True)
    assert _attributes(world, arn)["routing.http.desync_mitigation_mode"] == "strictest"


def test_elbv2_refuses_to_delete_a_protected_alb_as_aws_does(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    arn = _alb(world, ns, auto, PROTECTED)
    elbv2 = _elbv2(world)
    with pytest.raises(ClientError) as refused:
        elbv2.delete_load_balancer(LoadBalancerArn=arn)
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "OperationNotPermitted"
    assert error["Error"]["Message"] == (
        f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
    )
    assert [b["LoadBalancerArn"] for b in stack(world, ns).load_balancers] == [arn]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
    )
    elbv2.delete_load_balancer(LoadBalancerArn=arn)
    assert stack(world, ns).load_balancers == []


def test_a_deleted_protected_ingress_keeps_its_alb_until_the_annotation_lifts_it(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    arn = _alb(world, ns, auto, PROTECTED)
    store(world).delete(*INGRESS, "app", ns)  # a stray `kubectl delete ingress`
    auto.reconcile_once()
    auto.reconcile_once(force=True)  # retried: the same refusal, one aggregated event
    ingress = get_ingress(world, ns)
    assert ingress is not None
    assert ingress["metadata"]["deletionTimestamp"]
    assert ingress["metadata"]["finalizers"] == [FINALIZER]
    assert [b["LoadBalancerArn"] for b in stack(world, ns).load_balancers] == [arn]
    # As upstream (v3.5.0's recordIngressGroupEvent tells a group's active members only), the
    # refusal for a lone Ingress being deleted is in the controller's log, in no Event (a group's
    # other members get it: tests/sandbox/test_alb_controller_endoflife.py).
    assert warnings(world, ns) == []
    # The annotation of the terminating Ingress says false: the controller lifts and deletes.
    annotations = ingress["metadata"]["annotations"]
    annotations[A + "load-balancer-attributes"] = PROTECTED.replace(
        "deletion_protection.enabled=true", "deletion_protection.enabled=false"
    )
    store(world).update(ingress)
    auto.reconcile_once()
    assert get_ingress(world, ns) is None
    found = stack(world, ns)
    assert (found.load_balancers, found.target_groups, found.security_groups) == ([], [], [])


def test_protection_set_out_of_band_does_not_keep_the_alb(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    # As upstream (its issue #4325): only the Ingress's annotation holds the deletion back.
    arn = _alb(world, ns, auto, None)
    _elbv2(world).modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    store(world).delete(*INGRESS, "app", ns)
    auto.reconcile_once()
    assert get_ingress(world, ns) is None
    assert stack(world, ns).load_balancers == []
    assert warnings(world, ns) == []
