"""The controller stand-in's end of life going wrong as v3.5.0's does: events only on a group's
active members, a security group held by an interface, deletion protection, a member that does
not build; each with the real reason and message, and each undone by the fix a person makes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.alb_controller import AlbControllerStandIn
from sandbox.albcontroller import deploy
from sandbox.albcontroller.access import AwsCallError
from sandbox.world import World
from tests.sandbox.alb_world import (
    INGRESS,
    admin,
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

A = "alb.ingress.kubernetes.io/"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    started = start_world(Path(tmp_path_factory.mktemp("alb-eol")), "311111110077")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def auto(world: World) -> AlbControllerStandIn:
    return stand_in(world, "auto-mode")


@pytest.fixture
def ns(world: World, request: pytest.FixtureRequest) -> Iterator[str]:
    name = new_namespace(world, request.node.name)
    yield name
    for ingress in store(world).list(*INGRESS, name):
        if ingress["metadata"]["name"] != "app":
            ingress["metadata"]["finalizers"] = []
            store(world).update(ingress)
            store(world).delete(*INGRESS, ingress["metadata"]["name"], name)
    clean_up(world, name)


def _balancers(world: World) -> list[dict[str, Any]]:
    assert world.aws is not None
    return list(world.aws.client("elbv2").describe_load_balancers()["LoadBalancers"])


def _member(world: World, ns: str, name: str, group: str) -> None:
    """A second Ingress of the group, like `app`."""
    other = copy.deepcopy(store(world).get(*INGRESS, "app", ns))
    other["metadata"] = {"name": name, "namespace": ns,
                         "annotations": other["metadata"]["annotations"]}  # fmt: skip
    other["spec"]["rules"][0]["host"] = f"{name}.example.com"
    other.pop("status", None)
    store(world).create(other)


def test_a_lone_ingress_with_its_group_held_stays_terminating_with_no_event(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    make_ingress(world, ns, ingress_class="alb-auto",
                 certificate_arn=issued_certificate(world, "*.e1.example.com"))  # fmt: skip
    auto.reconcile_once()
    assert stack(world, ns).load_balancers
    fix = world.alb_end_of_life("dependency-violation", ingress=f"{ns}/app")
    store(world).delete(*INGRESS, "app", ns)
    auto.reconcile_once(force=True)
    found = stack(world, ns)
    assert (found.load_balancers, found.target_groups) == ([], [])  # those went first
    assert len(found.security_groups) == 1
    assert get_ingress(world, ns) is not None  # the finalizer stays
    assert warnings(world, ns) == []  # as upstream: no active member, no event

    fix()
    auto.reconcile_once(force=True)
    assert get_ingress(world, ns) is None
    assert stack(world, ns).security_groups == []


def test_the_controller_words_a_held_group_as_v3_does(world: World, ns: str) -> None:
    auto = stand_in(world, "auto-mode")
    make_ingress(world, ns, ingress_class="alb-auto",
                 certificate_arn=issued_certificate(world, "*.e2.example.com"))  # fmt: skip
    auto.reconcile_once()
    fix = world.alb_end_of_life("dependency-violation", ingress=f"{ns}/app")
    with pytest.raises(AwsCallError) as failed:
        deploy.delete_stack(admin(world), cluster="kubeflow", stack_id=f"{ns}/app")
    text = str(failed.value)
    assert text.startswith(
        "failed to delete securityGroup: timed out waiting for the condition: operation error "
        "EC2: DeleteSecurityGroup, https response error StatusCode: 400, RequestID: "
    )
    assert text.endswith("has a dependent object")
    assert "api error DependencyViolation: resource sg-" in text
    fix()


def test_deletion_protection_holds_the_group_until_the_annotation_says_false(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    make_ingress(world, ns, ingress_class="alb-auto", **{"group.name": f"g-{ns[-8:]}"},
                 certificate_arn=issued_certificate(world, "*.e3.example.com"))  # fmt: skip
    _member(world, ns, "other", f"g-{ns[-8:]}")
    fix = world.alb_end_of_life("protected", ingress=f"{ns}/app")
    auto.reconcile_once(force=True)
    before = len(_balancers(world))
    store(world).delete(*INGRESS, "app", ns)
    auto.reconcile_once(force=True)
    assert get_ingress(world, ns) is not None
    assert warnings(world, ns)[-1] == (
        "FailedBuildModel: Failed build model due to deletion_protection is enabled, cannot "
        "delete the ingress: app"
    )  # on `other`, the group's active member

    fix()  # deletion_protection.enabled=false: the controller carries the deletion out
    auto.reconcile_once(force=True)
    assert get_ingress(world, ns) is None
    store(world).delete(*INGRESS, "other", ns)
    auto.reconcile_once(force=True)  # the last member: the protected ALB is unprotected, deleted
    assert store(world).find(*INGRESS, "other", ns) is None
    assert len(_balancers(world)) == before - 1


def test_a_member_that_does_not_build_blocks_the_groups_deletions(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    make_ingress(world, ns, ingress_class="alb-auto", **{"group.name": f"h-{ns[-8:]}"},
                 certificate_arn=issued_certificate(world, "*.e4.example.com"))  # fmt: skip
    _member(world, ns, "other", f"h-{ns[-8:]}")
    auto.reconcile_once(force=True)
    fix = world.alb_end_of_life("group-member", ingress=f"{ns}/app", service="web")
    auto.reconcile_once(force=True)
    store(world).delete(*INGRESS, "app", ns)
    auto.reconcile_once(force=True)
    assert get_ingress(world, ns) is not None
    assert warnings(world, ns)[-1] == (
        f"FailedBuildModel: Failed build model due to ingress: {ns}/broken: unable to find "
        f"port 81 on service {ns}/web"
    )
    fix()
    for _ in range(2):  # the broken member goes, then app's deletion is carried out
        auto.reconcile_once(force=True)
    assert get_ingress(world, ns) is None
