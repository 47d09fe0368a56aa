"""The Gateway front door (stack.frontDoor: gateway): the Gateway API CRDs it needs (installed
when the cluster lacks them, before the controller, which looks for them when it starts), and
its objects, applied by server-side apply and settled once the controller has accepted and
programmed the Gateway (its ALB active, its address written). Removed through the controller,
which deletes the ALB before the Gateway's finalizer; the GatewayClass and the CRDs go with
their last user."""

from __future__ import annotations

from typing import Any

from core.controller_versions import DEFAULT_CONTROLLER_VERSION, release
from core.endoflife import EndOfLifeBlocked
from core.errors import PreflightError, WaitTimeout
from core.gateway import gateway_names
from core.gateway_state import CrdsState, FrontDoorState
from core.items_gateway import gateway_objects, is_gateway
from core.spec import StackSpec
from core.state import Kind, StackResource
from tasks.aws.elbv2 import delete_controller_resources, find_leftovers
from tasks.k8s.cleanup import delete_stale_webhooks
from tasks.k8s.gateway import (
    delete_gateway,
    ensure_gateway,
    observe_gateway,
    release_gateway,
    wait_for_gateway,
)
from tasks.k8s.gateway_api import (
    delete_gateway_api,
    delete_gateway_class,
    ensure_gateway_api,
    gateway_api_bundle,
    observe_gateway_api,
)
from tasks.k8s.manifests import gateway_source
from tasks.kinds.base import Env, Got, Look, Verbs
from tasks.logs import run_logger


def _looked_for(look: Look, kind: Kind) -> bool:
    """The CRDs are read for a Gateway front door, while the stack's record lists them, and in
    cleanup's sweep (which deletes CRDs anyway: the controller's)."""
    recorded = look.record is not None and bool(look.record.of_kind(kind))
    return look.target is not None and (is_gateway(look.spec) or recorded or look.sweeping)


def _version(spec: StackSpec) -> str:
    """The controller release whose Gateway API bundle applies (a v2 one has none)."""
    version = spec.stack.controller_version
    return version if release(version).gateway_api else DEFAULT_CONTROLLER_VERSION


def observe_crds(look: Look) -> dict[str, Any]:
    if look.target is None or not _looked_for(look, Kind.GATEWAY_API):
        return {}
    plan = observe_gateway_api.fn(look.target, _version(look.spec))
    total = len(plan.apply) + len(plan.kept)
    state = CrdsState(
        bundle=gateway_api_bundle(_version(look.spec)),
        missing=plan.missing,
        present=total - len(plan.missing),
        ours=len(plan.apply) > len(plan.missing),
        problem=plan.problem,
    )
    return {"gateway_crds": state}


def _crds_resource(spec: StackSpec, owned: bool) -> StackResource:
    bundle = gateway_api_bundle(_version(spec))
    return StackResource(kind=Kind.GATEWAY_API, id=f"gateway.networking.k8s.io/{bundle}",
                         name="Gateway API CRDs", owned=owned)  # fmt: skip


def current_crds(env: Env) -> StackResource | None:
    crds = env.seen.gateway_crds
    if crds is None or not crds.present or not is_gateway(env.spec):
        return None
    return _crds_resource(env.spec, crds.ours)


def check_crds(env: Env) -> None:
    """CRDs of another tool that cannot serve the controller stop setup before anything."""
    crds = env.seen.gateway_crds
    if crds is not None and crds.problem:
        raise PreflightError(crds.problem)


def ensure_crds(env: Env, got: Got) -> StackResource:
    ensure_gateway_api.fn(env.kube, stack=env.spec.name, controller_version=_version(env.spec))
    return _crds_resource(env.spec, True)


def delete_crds(env: Env) -> str:
    crds = env.seen.gateway_crds
    if env.target is None or crds is None or not crds.ours:
        return ""
    deleted = delete_gateway_api.fn(env.target, stack=env.spec.name,
                                    controller_version=_version(env.spec))  # fmt: skip
    return f"deleted the Gateway API CRDs ({len(deleted)} objects)" if deleted else ""


def observe(look: Look) -> dict[str, Any]:
    """The stack's Gateway objects, whichever its front door (an Ingress stack may be leaving
    a Gateway behind: a switch); kinds the cluster does not serve are not asked for."""
    if look.target is None:
        return {}
    found: dict[str, Any] = {"gateway": observe_gateway.fn(look.target, gateway_names(look.spec))}
    if is_gateway(look.spec):
        found["gateway_source"] = tuple(gateway_source())
    return found


def current(env: Env) -> FrontDoorState | None:
    door = env.seen.gateway
    return door if door is not None and door.gateway is not None else None


def ensure(env: Env, got: Got) -> Any:
    arns = tuple(certificate.arn for certificate in got.get(Kind.CERTIFICATE) or ())
    objects = gateway_objects(env.spec, env.seen, arns=arns or None)
    if objects is None:
        raise ValueError("the Gateway base was not read")  # observe always reads it
    return ensure_gateway.fn(env.kube, objects, stack=env.spec.name,
                             names=gateway_names(env.spec))  # fmt: skip


def settle(env: Env, made: Any, got: Got) -> FrontDoorState | None:
    """Wait until the Gateway is Accepted and Programmed (its failure names the condition's
    reason and message, and the controller's Warning events)."""
    if not is_gateway(env.spec):
        return None  # the Ingress is the front door
    state: FrontDoorState = wait_for_gateway.fn(env.kube, gateway_names(env.spec))
    return state


def delete(env: Env) -> str:
    """The stack's Gateway through its controller (which deletes the ALB first), its routes and
    configurations, then the GatewayClass once no Gateway uses it. With the controller gone (or
    not deleting within the bound), as the Ingress's cleanup does: the stack's ALB, listeners,
    target groups and security groups are swept by their tags, then the objects released."""
    door = env.seen.gateway
    if env.target is None or door is None or door == FrontDoorState():
        return ""  # nothing of it was found
    controller = env.seen.controller
    if controller is not None and controller.usable:
        try:
            return through_controller(env)
        except WaitTimeout as error:
            run_logger().warning("The controller did not delete the Gateway; removing its ALB "
                                 "by tags: %s", error)  # fmt: skip
    else:
        run_logger().warning("No ALB controller serves the Gateway: removing its ALB by tags.")
    return _without_controller(env)


def through_controller(env: Env) -> str:
    """Delete the stack's Gateway front door through its controller (a switch's only way: the
    new front door's ALB carries the stack's tags too), then the GatewayClass if unused."""
    names = gateway_names(env.spec)
    said = []
    if delete_gateway.fn(env.kube, stack=env.spec.name, names=names):
        said.append(f"deleted Gateway {names.gateway_key}; its controller deleted its ALB")
    said += _class_deleted(env)
    return "; ".join(said)


def _without_controller(env: Env) -> str:
    """Sweep the stack's ALB resources by their tags; only when none is left, release the
    Gateway's objects from the controller's finalizers."""
    names = gateway_names(env.spec)
    delete_controller_resources.fn(env.ctx, env.spec)
    left = find_leftovers(env.ctx, env.spec)
    if not left.empty:
        named = [*left.load_balancer_arns, *left.target_group_arns, *left.security_group_ids]
        raise EndOfLifeBlocked(
            f"Not releasing Gateway {names.gateway_key} from the controller's finalizers: the "
            f"sweep by stack {env.spec.name}'s tags still finds {', '.join(named)}. Remove "
            "those (or what holds them), then run cleanup again."
        )
    delete_stale_webhooks.fn(env.kube, env.spec.name)  # they refuse the finalizer removals
    said = []
    if release_gateway.fn(env.kube, stack=env.spec.name, names=names):
        said.append(f"released Gateway {names.gateway_key} without its controller (ALB swept "
                    "by tags)")  # fmt: skip
    said += _class_deleted(env, release=True)
    return "; ".join(said)


def _class_deleted(env: Env, *, release: bool = False) -> list[str]:
    name = gateway_names(env.spec).gateway_class
    deleted = delete_gateway_class.fn(env.kube, name=name, release=release)
    return [f"deleted GatewayClass {name}"] if deleted else []


CRDS = Verbs(
    observe=observe_crds,
    current=current_crds,
    ensure=ensure_crds,
    delete=delete_crds,
    check=check_crds,
)

VERBS = Verbs(
    observe=observe,
    current=current,
    ensure=ensure,
    settle=settle,
    delete=delete,
)
