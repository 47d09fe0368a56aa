"""The ALB the controller builds from the front door: never edited directly. Made by applying
the front door (or, when only the ALB drifted, by asking the controller to reconcile it), then
found by the address the front door reports; settled once active and as declared. It goes with
the front door; what the controller leaves of it is swept by the stack's tags."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.dnsnames import normalise
from core.errors import ResourceNotFound
from core.items_front import desired_alb, ingress_manifest
from core.resources import LoadBalancerState
from core.state import Kind
from tasks.aws.elbv2 import (
    delete_controller_resources,
    observe_load_balancer,
    wait_for_alb_fields,
    wait_for_load_balancer,
)
from tasks.aws.elbv2_details import details_declared
from tasks.k8s.ingress import request_reconcile, wait_for_ingress_address
from tasks.kinds.base import Env, Got, Look, Verbs, recorded_in
from tasks.kinds.ingress import manifest_of


def observe(look: Look) -> dict[str, Any]:
    """The ALB named by the Ingress's address, with the details its declared fields need."""
    ingress = look.found.ingress
    if ingress is None or not ingress.hostname:
        return {}
    wanted = desired_alb(look.spec, look.found, ingress_manifest(look.spec, look.found))
    return {
        "load_balancer": observe_load_balancer.fn(
            look.ctx,
            dns_name=ingress.hostname,
            stack=look.spec.name,
            details=details_declared(wanted),
            recorded=recorded_in(look, Kind.LOAD_BALANCER).get(normalise(ingress.hostname)),
        )
    }


def ensure(env: Env, got: Got) -> LoadBalancerState:
    """Find the ALB the controller made for the front door; when only the ALB drifted, first
    make the controller reconcile it (a new annotation value: it reconciles on any change)."""
    spec, ingress = env.spec, got[Kind.INGRESS]
    if not env.changes(Kind.INGRESS):
        stamp = datetime.now(UTC).isoformat(timespec="microseconds")
        request_reconcile.fn(env.kube, stamp=stamp, name=spec.ingress_name)
        ingress = wait_for_ingress_address.fn(env.kube, name=spec.ingress_name)
    balancer: LoadBalancerState | None = observe_load_balancer.fn(
        env.ctx, dns_name=ingress.hostname
    )
    if balancer is None:
        raise ResourceNotFound(
            f"No load balancer named {ingress.hostname} in {spec.region}, though Ingress "
            f"{ingress.key} reports it; check the ALB controller's logs."
        )
    return balancer


def settle(env: Env, made: LoadBalancerState, got: Got) -> LoadBalancerState:
    """Wait until the ALB is active and says what the front door declares."""
    balancer: LoadBalancerState = wait_for_load_balancer.fn(env.ctx, made.arn, seen=made)
    wanted = desired_alb(env.spec, env.seen, manifest_of(env, got))
    member = env.spec.ingress_key if env.spec.stack.ingress_group else None
    settled: LoadBalancerState = wait_for_alb_fields.fn(
        env.ctx, balancer.arn, wanted, member=member
    )
    return settled


def delete(env: Env) -> str:
    """What the controller made for the stack and left (or made for a front door gone already)."""
    if delete_controller_resources.fn(env.ctx, env.spec):
        return "deleted the stack's ALB resources the controller left"
    return ""


VERBS = Verbs(
    observe=observe,
    observe_after=(Kind.INGRESS, Kind.CERTIFICATE, Kind.CONTROLLER),
    current=lambda env: env.seen.load_balancer,
    ensure=ensure,
    settle=settle,
    delete=delete,
)
