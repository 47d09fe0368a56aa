"""The front door: the Ingress for istio-ingressgateway, rendered from its source with the
stack's parameters, applied by server-side apply; settled once the controller wrote the ALB's
address. Removed through its controller (which deletes the ALB first), or, with the controller
gone, by releasing its finalizers once the stack's ALB resources are swept by their tags."""

from __future__ import annotations

from typing import Any

from core.cleanup import own_bindings, own_ingress
from core.errors import WaitTimeout
from core.items_front import ingress_manifest
from core.items_gateway import is_gateway
from core.kubestate import IngressRef, IngressState
from core.state import Kind
from tasks.deletion_protection import lift_deletion_protection
from tasks.endoflife import delete_front_door, release_after_sweep
from tasks.k8s.cleanup import delete_stale_webhooks
from tasks.k8s.cluster import preflight_permissions
from tasks.k8s.ingress import (
    ensure_ingress,
    observe_gateway_port,
    observe_ingress,
    wait_for_ingress_address,
)
from tasks.k8s.manifests import ingress_source
from tasks.kinds.base import Env, Got, Look, Verbs
from tasks.logs import run_logger


def observe(look: Look) -> dict[str, Any]:
    found: dict[str, Any] = {"ingress_source": ingress_source(look.spec.stack.manifests_path)}
    if look.target is not None:
        found["ingress"] = observe_ingress.fn(
            look.target, ingress=IngressRef(name=look.spec.ingress_name)
        )
        found["gateway_target_port"] = observe_gateway_port.fn(look.target)
    return found


def manifest_of(env: Env, got: Got) -> dict[str, Any]:
    """The Ingress with the certificates and the controller's class as apply has them now."""
    arns = tuple(certificate.arn for certificate in got.get(Kind.CERTIFICATE) or ())
    controller = got.get(Kind.CONTROLLER)
    manifest = ingress_manifest(
        env.spec,
        env.seen,
        arns=arns or None,
        class_name=controller.ingress_class if controller is not None else None,
    )
    if manifest is None:
        raise ValueError("the Ingress source was not read")  # observe always reads it
    return manifest


def check(env: Env) -> None:
    """This identity may apply the Ingress: checked before anything of the stack is made."""
    if env.seen.ingress_source is not None:
        preflight_permissions.fn(env.kube, [env.seen.ingress_source])


def ensure(env: Env, got: Got) -> Any:
    return ensure_ingress.fn(env.kube, manifest_of(env, got), stack=env.spec.name)


def settle(env: Env, made: Any, got: Got) -> IngressState | None:
    if is_gateway(env.spec):
        return None  # the Gateway is the front door
    state: IngressState = wait_for_ingress_address.fn(
        env.kube, ingress=IngressRef(name=env.spec.ingress_name)
    )
    return state


def delete(env: Env) -> str:
    """Delete the stack's Ingress through its controller; without one, sweep the stack's ALB
    resources by their tags and release the Ingress's finalizers."""
    seen, spec, target = env.seen, env.spec, env.target
    ingress, bindings = own_ingress(seen, spec.name), own_bindings(seen, spec.name)
    if target is None or (ingress is None and (not bindings or is_gateway(spec))):
        return ""
    if ingress is not None and deleted_by_controller(env):
        return f"deleted Ingress {ingress.key}; its controller deleted its ALB"
    delete_stale_webhooks.fn(target, spec.name)  # they refuse the finalizer removals
    # The finalizer goes only once a sweep by the stack's tags finds nothing of it left.
    release_after_sweep.fn(env.ctx, target, spec)
    return f"released Ingress {spec.ingress_key} without its controller (ALB swept by tags)"


def deleted_by_controller(env: Env) -> bool:
    """Delete the Ingress through its controller (which deletes its ALB first); False when no
    controller is there to delete it, or it did not within the bound."""
    logger, controller = run_logger(), env.seen.controller
    if controller is None or not controller.usable:
        logger.warning("No ALB controller serves the Ingress: removing its ALB by tags.")
        return False
    try:
        # The controller deletes a protected ALB only once the Ingress's annotation lifts it.
        lift_deletion_protection.fn(
            env.ctx, env.kube, stack=env.spec.name, ingress=IngressRef(name=env.spec.ingress_name)
        )
    except WaitTimeout as error:  # a controller that cannot act: the deletion below says why
        logger.warning("Deletion protection not lifted yet: %s", error)
    try:
        # Names the cause when the Ingress stays terminating (tasks/endoflife.py): one only
        # someone else can remove raises EndOfLifeBlocked, and the finalizer stays.
        delete_front_door.fn(env.ctx, env.kube, env.spec)
    except WaitTimeout as error:
        logger.warning("The controller did not delete the Ingress; removing its ALB by tags: %s",
                       error)  # fmt: skip
        return False
    return True


VERBS = Verbs(
    observe=observe,
    current=lambda env: env.seen.ingress,
    ensure=ensure,
    settle=settle,
    delete=delete,
    check=check,
)
