"""The ALB the controller builds from the front door: never edited directly. Made by applying
the front door (or, when only the ALB drifted, by asking the controller to reconcile it), then
found by the address the front door reports; settled once active and as declared. It goes with
the front door; what the controller leaves of it is swept by the stack's tags."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.dnsnames import normalise
from core.errors import ResourceNotFound
from core.gateway import gateway_names
from core.gateway_state import FrontDoorState
from core.items_front import desired_alb, wanted_alb
from core.items_gateway import desired_gateway_alb, gateway_objects, is_gateway
from core.kubestate import IngressRef
from core.observation import Observation
from core.resources import LoadBalancerState
from core.spec import StackSpec
from core.state import Kind
from tasks.aws.elbv2 import (
    delete_controller_resources,
    observe_load_balancer,
    wait_for_alb_fields,
    wait_for_load_balancer,
)
from tasks.aws.elbv2_details import details_declared
from tasks.k8s.gateway import request_gateway_reconcile, wait_for_gateway
from tasks.k8s.ingress import request_reconcile, wait_for_ingress_address
from tasks.kinds.base import Env, Got, Look, Verbs, recorded_in
from tasks.kinds.ingress import manifest_of


def _address(spec: StackSpec, seen: Observation) -> str | None:
    """The ALB's DNS name as the stack's front door reports it."""
    if is_gateway(spec):
        door = seen.gateway.gateway if seen.gateway is not None else None
        return door.hostname if door is not None else None
    return seen.ingress.hostname if seen.ingress is not None else None


def observe(look: Look) -> dict[str, Any]:
    """The ALB named by the front door's address, with the details its declared fields need."""
    hostname = _address(look.spec, look.found)
    if not hostname:
        return {}
    wanted = wanted_alb(look.spec, look.found)
    return {
        "load_balancer": observe_load_balancer.fn(
            look.ctx,
            dns_name=hostname,
            stack=look.spec.name,
            details=details_declared(wanted),
            recorded=recorded_in(look, Kind.LOAD_BALANCER).get(normalise(hostname)),
        )
    }


def _gateway_address(env: Env, got: Got) -> tuple[str, str]:
    """The Gateway's ALB address (and its key), after asking the controller to reconcile
    when only the ALB drifted."""
    names = gateway_names(env.spec)
    door: FrontDoorState | None = got.get(Kind.GATEWAY)
    if not env.changes(Kind.GATEWAY):
        stamp = datetime.now(UTC).isoformat(timespec="microseconds")
        request_gateway_reconcile.fn(env.kube, stamp=stamp, names=names)
        door = wait_for_gateway.fn(env.kube, names)
    gateway = door.gateway if door is not None else None
    return (gateway.hostname or "" if gateway else ""), f"Gateway {names.gateway_key}"


def ensure(env: Env, got: Got) -> LoadBalancerState:
    """Find the ALB the controller made for the front door; when only the ALB drifted, first
    make the controller reconcile it (a new annotation value: it reconciles on any change)."""
    spec = env.spec
    if is_gateway(spec):
        hostname, door = _gateway_address(env, got)
    else:
        ingress = got[Kind.INGRESS]
        if not env.changes(Kind.INGRESS):
            stamp = datetime.now(UTC).isoformat(timespec="microseconds")
            request_reconcile.fn(env.kube, stamp=stamp, ingress=IngressRef(name=spec.ingress_name))
            ingress = wait_for_ingress_address.fn(
                env.kube, ingress=IngressRef(name=spec.ingress_name)
            )
        hostname, door = ingress.hostname, f"Ingress {ingress.key}"
    balancer: LoadBalancerState | None = observe_load_balancer.fn(env.ctx, dns_name=hostname)
    if balancer is None:
        raise ResourceNotFound(
            f"No load balancer named {hostname} in {spec.region}, though {door} reports it; "
            "check the ALB controller's logs."
        )
    return balancer


def settle(env: Env, made: LoadBalancerState, got: Got) -> LoadBalancerState:
    """Wait until the ALB is active and says what the front door declares."""
    balancer: LoadBalancerState = wait_for_load_balancer.fn(env.ctx, made.arn, seen=made)
    wanted = _wanted(env, got)
    member = env.spec.ingress_key if env.spec.stack.ingress_group else None
    settled: LoadBalancerState = wait_for_alb_fields.fn(
        env.ctx, balancer.arn, wanted, member=member
    )
    return settled


def _wanted(env: Env, got: Got) -> dict[str, str]:
    """The ALB's declared fields for the front door as apply has it now."""
    if not is_gateway(env.spec):
        return desired_alb(env.spec, env.seen, manifest_of(env, got))
    arns = tuple(certificate.arn for certificate in got.get(Kind.CERTIFICATE) or ())
    objects = gateway_objects(env.spec, env.seen, arns=arns or None)
    return desired_gateway_alb(env.spec, env.seen, objects)


def delete(env: Env) -> str:
    """What the controller made for the stack and left (or made for a front door gone already)."""
    if delete_controller_resources.fn(env.ctx, env.spec):
        return "deleted the stack's ALB resources the controller left"
    return ""


VERBS = Verbs(
    observe=observe,
    observe_after=(Kind.INGRESS, Kind.GATEWAY, Kind.CERTIFICATE, Kind.CONTROLLER),
    current=lambda env: env.seen.load_balancer,
    ensure=ensure,
    settle=settle,
    delete=delete,
)
