"""The ALB controller stand-in builds the whole ALB from the Ingress and, like the real controller,
puts back out-of-band changes when the Ingress's annotations change (and not otherwise).

Each test drives a stand-in of its own with `reconcile_once`, so nothing depends on timing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.alb import RECONCILE_ANNOTATION, alb_fields, desired_alb_fields
from core.manifests import DEFAULT_SSL_POLICY
from core.plan import Item, plan
from core.state import Kind
from sandbox.alb_controller import AlbControllerStandIn
from sandbox.world import World
from tasks.aws.elbv2 import read_load_balancer
from tests import tamper
from tests.sandbox.alb_world import (
    INGRESS,
    clean_up,
    get_ingress,
    issued_certificate,
    make_ingress,
    new_namespace,
    stand_in,
    start_world,
    store,
)

STACK = "demo"  # the kubeflow-alb/stack tag make_ingress sets
ANNOTATIONS = {
    "ssl_policy": DEFAULT_SSL_POLICY,
    "healthcheck_protocol": "HTTP",
    "healthcheck_port": "15021",
    "healthcheck_path": "/healthz/ready",
    "success_codes": "200",
    "load_balancer_attributes": "routing.http.drop_invalid_header_fields.enabled=true",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    started = start_world(Path(tmp_path_factory.mktemp("alb-repair")), "311111110061")
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


def _built(world: World, ns: str, auto: AlbControllerStandIn) -> dict[str, Any]:
    certificates = [issued_certificate(world, f"*.{n}.{ns}.example.com") for n in ("a", "b")]
    ingress = make_ingress(
        world, ns, ingress_class="alb-auto", certificate_arn=",".join(certificates), **ANNOTATIONS
    )
    auto.reconcile_once()
    return ingress


def _drift(world: World, ns: str) -> dict[str, tuple[str, str]]:
    """Fields of the Ingress's ALB that differ from what the Ingress declares."""
    ingress = get_ingress(world, ns)
    assert ingress is not None
    wanted = desired_alb_fields(ingress, cluster="kubeflow", target_port=8080)
    wanted.pop("state")  # the sandbox's ALBs stay provisioning here
    arn = tamper.find_alb(world, STACK, ingress=f"{ns}/app")
    state = read_load_balancer(world.aws.client("elbv2"), arn=arn)  # type: ignore[union-attr]
    assert state is not None
    item = Item(Kind.LOAD_BALANCER, "alb", wanted)
    (change,) = plan([item], {(Kind.LOAD_BALANCER, "alb"): alb_fields(state)}).changes
    return {d.field: (d.expected, d.found) for d in change.differences}


def _bump(world: World, ns: str, value: str) -> None:
    ingress = store(world).get(*INGRESS, "app", ns)
    ingress["metadata"]["annotations"][RECONCILE_ANNOTATION] = value
    store(world).update(ingress)


def test_the_alb_is_built_whole_from_the_ingress(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    _built(world, ns, auto)
    assert _drift(world, ns) == {}


@pytest.mark.parametrize("tampering", tamper.ALB_TAMPERINGS, ids=lambda f: f.__name__)
def test_an_annotation_bump_restores_a_tampered_alb(
    world: World, ns: str, auto: AlbControllerStandIn, tampering: Callable[..., tuple[str, ...]]
) -> None:
    _built(world, ns, auto)
    fields = tampering(world, STACK, ingress=f"{ns}/app")
    assert set(_drift(world, ns)) == set(fields)  # exactly the one fact changed

    auto.reconcile_once()  # nothing changed on the Ingress: not due for 10 h
    assert set(_drift(world, ns)) == set(fields)

    _bump(world, ns, "2026-12-01T22:00:00Z")
    auto.reconcile_once()
    assert _drift(world, ns) == {}


def test_a_label_change_is_no_reason_to_reconcile_but_a_resync_is(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    _built(world, ns, auto)
    tamper.weaken_ssl_policy(world, STACK, ingress=f"{ns}/app")
    ingress = store(world).get(*INGRESS, "app", ns)
    ingress["metadata"].setdefault("labels", {})["touched"] = "yes"
    store(world).update(ingress)
    auto.reconcile_once()
    assert set(_drift(world, ns)) == {"listener HTTPS:443 ssl-policy"}

    auto.reconcile_once(force=True)  # what the periodic resync does
    assert _drift(world, ns) == {}


def test_one_bump_restores_every_tampering_at_once(
    world: World, ns: str, auto: AlbControllerStandIn
) -> None:
    _built(world, ns, auto)
    changed: set[str] = set()
    for tampering in tamper.ALB_TAMPERINGS:
        changed |= set(tampering(world, STACK, ingress=f"{ns}/app"))
    assert set(_drift(world, ns)) == changed
    _bump(world, ns, "1")
    auto.reconcile_once()
    assert _drift(world, ns) == {}
    # The same value again is no change: a second apply must write a new timestamp.
    tamper.break_health_check(world, STACK, ingress=f"{ns}/app")
    _bump(world, ns, "1")
    auto.reconcile_once()
    assert set(_drift(world, ns)) == {"target-group health-check path"}
