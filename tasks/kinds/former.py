"""A switch of front door (stack.frontDoor ingress <-> gateway): the stack's other front door,
removed by the walk only once the dashboard's name resolves to the new ALB and the dashboard
answers through it; its controller then removes the old ALB. Its cleanup is the Ingress's or
the Gateway's own."""

from __future__ import annotations

from typing import Any

from core.errors import KubernetesError
from core.items_gateway import is_gateway
from core.resources import LoadBalancerState
from core.state import Forgotten, Kind
from tasks.kinds import gateway, ingress
from tasks.kinds.base import Env, Got, Look, Verbs
from tasks.logs import run_logger


def observe(look: Look) -> dict[str, Any]:
    return {}  # the Ingress and the Gateway are read by their own kinds


def ensure(env: Env, got: Got) -> Forgotten:
    """Delete the old front door through its controller (which deletes its ALB). Never by a
    sweep of the stack's tags, as cleanup may: the new front door's ALB carries them too.
    The stack's record then forgets the old front door and its ALB."""
    if is_gateway(env.spec):
        if not ingress.deleted_by_controller(env):
            raise KubernetesError(
                f"The ALB controller did not delete the former Ingress {env.spec.ingress_key} "
                "(see the warnings above); the new Gateway front door serves the dashboard. "
                "Fix the controller and run setup again to remove the old Ingress and its ALB."
            )
        said = f"deleted Ingress {env.spec.ingress_key}; its controller deleted its ALB"
    else:
        said = gateway.through_controller(env)
    run_logger().info("Front door switched to the %s: %s", env.spec.stack.front_door,
                      said or "nothing was left of the old one")  # fmt: skip
    return _forgotten(env, got)


def _forgotten(env: Env, got: Got) -> Forgotten:
    """The record's entries of the old front door and of any ALB but the new one."""
    old = Kind.INGRESS if is_gateway(env.spec) else Kind.GATEWAY
    balancer: LoadBalancerState | None = got.get(Kind.LOAD_BALANCER)
    kept = balancer.arn if balancer is not None else None
    record = env.record
    doors = record.of_kind(old) if record is not None else ()
    albs = record.of_kind(Kind.LOAD_BALANCER) if record is not None else ()
    return Forgotten(
        entries=(
            *((old, door.id) for door in doors),
            *((Kind.LOAD_BALANCER, alb.id) for alb in albs if alb.id != kept),
        )
    )


VERBS = Verbs(observe=observe, ensure=ensure)
