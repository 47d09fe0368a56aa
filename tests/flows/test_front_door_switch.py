"""Switching a live stack's front door, ingress -> gateway -> ingress, against the sandbox: the
plan says new ALB, record moved, old front door removed; the dashboard answers throughout (a
probe every 0.5 s through the sandbox's resolvers); one ALB is left and the plan is empty."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from core.plan import Action
from core.state import Kind
from tests.flows.test_gateway_flow import _aws, _kube, _spec

#: This file's own AWS account (moto's backends are process-wide).
ACCOUNT = "311111119020"


@contextmanager
def _probing(host: str) -> Iterator[list[str]]:
    """Probe https://host/ every 0.5 s while the block runs; yields the failures seen."""
    from core.settings import get_settings
    from tasks.https import probe

    failures: list[str] = []
    stop = threading.Event()
    settings = get_settings()

    def run() -> None:
        while not stop.is_set():
            answer = probe(host, settings)
            if not answer.ok:
                failures.append(answer.describe())
            stop.wait(0.5)

    prober = threading.Thread(target=run, daemon=True)
    prober.start()
    try:
        yield failures
    finally:
        stop.set()
        prober.join()


def _balancers(world: Any) -> list[dict[str, Any]]:
    return list(world.aws.client("elbv2").describe_load_balancers()["LoadBalancers"])


def _switch(world: Any, spec: Any) -> None:
    """Plan the switch, carry it out while probing, and check what is left."""
    from flows.check_drift import observe_plan
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.stack_block import load_record

    plan = observe_plan(spec)[1]
    actions = {(change.item.kind, change.action) for change in plan.drift}
    assert {
        (Kind.LOAD_BALANCER, Action.CREATE),
        (Kind.DNS_RECORD, Action.UPDATE),
        (Kind.FORMER_FRONT_DOOR, Action.DELETE),
    } <= actions, actions
    with _probing(spec.dashboard_host) as failures:
        setup_load_balancer(spec=spec)
    assert failures == []
    (balancer,) = _balancers(world)
    # the stack's block forgot the old front door and its ALB
    record = load_record(spec.name)
    assert record is not None
    old = Kind.INGRESS if spec.stack.front_door == "gateway" else Kind.GATEWAY
    assert record.of_kind(old) == ()
    assert [item.id for item in record.of_kind(Kind.LOAD_BALANCER)] == [balancer["LoadBalancerArn"]]
    after = observe_plan(spec)[1]
    assert after.converged, [f"{c.item.key}: {c.differences}" for c in after.drift]


def test_switch_ingress_to_gateway_and_back_without_a_failed_request(
    sandbox_world: Callable[..., Any],
) -> None:
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world(account_id=ACCOUNT)
    aws_before, kube_before = _aws(world), _kube(world)
    ingress = _spec("switch-door", frontDoor="ingress")
    gateway = _spec("switch-door", frontDoor="gateway")
    store = world.kube.store

    setup_load_balancer(spec=ingress)
    _switch(world, gateway)
    assert store.list("networking.k8s.io/v1", "Ingress") == []
    assert store.list("gateway.networking.k8s.io/v1", "Gateway")

    _switch(world, ingress)
    assert store.list("gateway.networking.k8s.io/v1", "Gateway") == []
    assert store.list("networking.k8s.io/v1", "Ingress")

    leftovers = cleanup_load_balancer(stack=ingress.name)
    assert not any(leftovers.values()), leftovers
    assert _aws(world) == aws_before
    assert _kube(world) == kube_before
