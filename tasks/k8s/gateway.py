"""The Gateway front door's objects: render, observe, apply, wait until programmed, delete."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prefect import task

from core.alb import RECONCILE_ANNOTATION
from core.alb_options import describe_cleanup, lifting
from core.errors import KubernetesError, OwnershipError, PreflightError
from core.gateway import GATEWAY_API, LBC_API, GatewayNames
from core.gateway_state import (
    FrontDoorOutcome,
    FrontDoorState,
    ObjectState,
    Verdict,
    gateway_state,
    judge,
    object_state,
    route_state,
)
from core.kubestate import ApplyReport
from core.manifests import Manifest
from core.settings import get_settings
from core.waits import WAITS
from tasks.k8s.apply import apply_objects, merge_patch, read, resource_for
from tasks.k8s.cleanup import bindings_of, release_bindings
from tasks.k8s.clients import Kube, KubeTarget, connect
from tasks.k8s.cluster import get, riding_out_blips, warning_events
from tasks.k8s.errors import is_not_found, translated
from tasks.logs import run_logger
from tasks.retry import retrying_task
from tasks.waits import wait_for


def read_front_door(kube: Kube, names: GatewayNames) -> FrontDoorState:
    """Whatever of the front door exists (kinds the cluster does not serve count as absent)."""

    def one(api: str, kind: str, name: str, namespace: str | None = None) -> Manifest | None:
        return get(kube, api, kind, name, namespace)

    klass = one(GATEWAY_API, "GatewayClass", names.gateway_class)
    gateway = one(GATEWAY_API, "Gateway", names.gateway, names.namespace)
    routes = [
        one(GATEWAY_API, "HTTPRoute", name, names.namespace)
        for name in (names.route, names.redirect_route)
    ]
    lbc = one(
        LBC_API, "LoadBalancerConfiguration", names.load_balancer_configuration, names.namespace
    )
    tgc = one(
        LBC_API, "TargetGroupConfiguration", names.target_group_configuration, names.namespace
    )
    return FrontDoorState(
        gateway_class=object_state(klass) if klass else None,
        gateway=gateway_state(gateway) if gateway else None,
        routes=tuple(route_state(route) for route in routes if route),
        load_balancer_configuration=object_state(lbc) if lbc else None,
        target_group_configuration=object_state(tgc) if tgc else None,
    )


@retrying_task
def observe_gateway(target: KubeTarget, names: GatewayNames | None = None) -> FrontDoorState:
    """The front door's objects as they are: specs, labels, the Gateway's conditions and
    address (the ALB's DNS name), each route's status per parent."""
    with connect(target) as kube:
        return read_front_door(kube, names or GatewayNames())


@retrying_task
def ensure_gateway(
    target: KubeTarget,
    objects: list[Manifest],
    *,
    stack: str,
    names: GatewayNames | None = None,
    adopt: bool = False,
) -> FrontDoorOutcome:
    """Server-side apply the front door's objects with kubeflow-alb's field manager. The
    GatewayClass is the cluster's (any kubeflow-alb stack's); the others must be this stack's
    (objects of the same names without its labels are refused, unless `adopt`)."""
    with connect(target) as kube:
        missing = sorted(
            {
                f"{obj['apiVersion']} {obj['kind']}"
                for obj in objects
                if resource_for(kube, obj) is None
            }
        )
        if missing:
            raise PreflightError(
                f"The API server does not serve {', '.join(missing)}: the Gateway API CRDs "
                "(ensure_gateway_api) and the AWS Load Balancer Controller v3.x's own "
                "gateway.k8s.aws CRDs (its manifests, or its chart's crds/) must be installed first."
            )
        shared = [obj for obj in objects if obj.get("kind") == "GatewayClass"]
        own = [obj for obj in objects if obj.get("kind") != "GatewayClass"]
        reports = [apply_objects(kube, shared, stack=stack, shared=True)] if shared else []
        reports.append(apply_objects(kube, own, stack=stack, adopt=adopt))
        state = read_front_door(kube, names or names_of(objects))
    report = ApplyReport(objects=tuple(item for r in reports for item in r.objects))
    run_logger().info(
        "Gateway front door: %s changed", report.of("created") + report.of("changed") or "nothing"
    )
    return FrontDoorOutcome(state=state, applied=report)


def names_of(objects: list[Manifest]) -> GatewayNames:
    """The names of a front door's objects, read from its Gateway."""
    gateway = next((obj for obj in objects if obj.get("kind") == "Gateway"), None)
    if gateway is None:
        return GatewayNames()
    meta = gateway.get("metadata") or {}
    return GatewayNames(
        gateway=str(meta.get("name")),
        gateway_class=str((gateway.get("spec") or {}).get("gatewayClassName")),
        namespace=str(meta.get("namespace")),
    )


@retrying_task
def request_gateway_reconcile(
    target: KubeTarget, *, stamp: str, names: GatewayNames | None = None
) -> FrontDoorState:
    """Ask the ALB controller to rebuild the ALB from the Gateway: change our reconcile
    annotation (AWS objects the controller owns are never edited directly)."""
    names = names or GatewayNames()
    with connect(target) as kube:
        resource = resource_for(kube, {"apiVersion": GATEWAY_API, "kind": "Gateway"})
        if resource is None:
            raise PreflightError(f"The API server serves no {GATEWAY_API} Gateway.")
        with translated(f"Annotating Gateway {names.gateway_key}"):
            merge_patch(
                resource,
                {"metadata": {"annotations": {RECONCILE_ANNOTATION: stamp}}},
                name=names.gateway,
                namespace=names.namespace,
                manager="reconcile",
            )
        state = read_front_door(kube, names)
    run_logger().info("Asked the ALB controller to reconcile Gateway %s", names.gateway_key)
    return state


class _Judge:
    """The wait's acceptor: ready; a failure stops at once; one the controller retries stops
    once it lasted the grace (its Warning events then say why)."""

    def __init__(self, grace: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace, self.clock = grace, clock
        self.retrying: tuple[str, float] | None = None

    def __call__(self, door: FrontDoorState, events: Callable[[], list[str]]) -> bool:
        verdict = judge(door)
        if verdict.failure:
            raise KubernetesError(_failure(verdict.failure, events()))
        if verdict.retrying:
            since = (
                self.retrying[1]
                if self.retrying and self.retrying[0] == verdict.retrying
                else self.clock()
            )
            self.retrying = (verdict.retrying, since)
            if self.clock() - since >= self.grace:
                raise KubernetesError(_failure(verdict.retrying, events()))
        else:
            self.retrying = None
        return verdict.ready


def _failure(problem: str, events: list[str]) -> str:
    told = f"; Warning events: {' | '.join(events)}" if events else ""
    return (
        f"The ALB controller did not build the Gateway front door: {problem}{told}. Fix the "
        "cause and run setup again."
    )


@task
def wait_for_gateway(target: KubeTarget, names: GatewayNames | None = None) -> FrontDoorState:
    """Wait until the ALB controller has programmed the Gateway (accepted, its ALB active, its
    address written); stop at once on a failure its status names (reason and message, with the
    controller's Warning events), or when a failure it retries lasts
    KFALB_GATEWAY_FAILURE_GRACE_SECONDS."""
    settings = get_settings()
    names = names or GatewayNames()
    with connect(target) as kube:
        acceptor = _Judge(settings.gateway_failure_grace_seconds)

        def events() -> list[str]:
            return warning_events(
                kube, namespace=names.namespace, kind="Gateway", name=names.gateway
            )

        found = wait_for(
            WAITS.gateway_programmed.of(names.gateway_key),
            riding_out_blips(lambda: read_front_door(kube, names), FrontDoorState()),
            until=lambda door: acceptor(door, events),
            settings=settings,
            describe=lambda door: _describe(judge(door or FrontDoorState()), events()),
        )
    run_logger().info(
        "Gateway %s programmed: %s", names.gateway_key, found.gateway and found.gateway.hostname
    )
    return found


def _describe(verdict: Verdict, events: list[str]) -> str:
    seen = verdict.waiting or verdict.retrying or verdict.failure or "programmed"
    if events:
        return f"{seen}; Warning events: " + " | ".join(events)
    return f"{seen}; no Warning events (is an ALB controller with its Gateway controller running?)"


_DELETE_ORDER = ("Gateway", "HTTPRoute", "LoadBalancerConfiguration", "TargetGroupConfiguration")


def _ours(door: FrontDoorState, stack: str) -> list[ObjectState]:
    """The front door's objects that exist; an object another owner made stops the deletion."""
    present = [obj for obj in (door.gateway, *door.routes, door.load_balancer_configuration,
                               door.target_group_configuration) if obj is not None]  # fmt: skip
    foreign = [obj.key for obj in present if not obj.owned_by(stack)]
    if foreign:
        raise OwnershipError(
            f"{', '.join(foreign)} do not carry stack {stack!r}'s labels; not deleting them."
        )
    return present


@retrying_task
def delete_gateway(target: KubeTarget, *, stack: str, names: GatewayNames | None = None) -> bool:
    """Delete the stack's Gateway, wait until it is gone (the controller deletes the ALB, its
    target groups and security group, then its finalizer), then its routes and configurations
    (the controller lets those go once no Gateway uses them). The shared GatewayClass stays.
    False when nothing was there."""
    settings = get_settings()
    names = names or GatewayNames()
    with connect(target) as kube:
        door = read_front_door(kube, names)
        present = _ours(door, stack)
        if not present:
            return False
        # The controller keeps a deleted Gateway whose configuration protects its ALB.
        _lift_protection(kube, door.load_balancer_configuration)
        for kind in _DELETE_ORDER:
            for obj in (o for o in present if o.kind == kind):
                _delete(kube, obj)
            if kind == "Gateway" and door.gateway is not None:
                _wait_gone(kube, names, [door.gateway], settings)
        _wait_gone(kube, names, [o for o in present if o.kind != "Gateway"], settings)
    run_logger().info("Gateway front door %s deleted", names.gateway_key)
    return True


def _lift_protection(kube: Kube, configuration: ObjectState | None) -> None:
    """Give the LoadBalancerConfiguration's attributes the values cleanup sets (deletion
    protection off, core/alb_options.py), so the controller may delete the ALB."""
    if configuration is None or configuration.deleting:
        return
    items = configuration.spec.get("loadBalancerAttributes") or []
    lifted = lifting({str(item.get("key")): str(item.get("value")) for item in items})
    resource = resource_for(kube, {"apiVersion": LBC_API, "kind": configuration.kind})
    if not lifted or resource is None:
        return
    body = {"spec": {"loadBalancerAttributes": [{"key": k, "value": v} for k, v in lifted.items()]}}
    with translated(f"Lifting the deletion protection of {configuration.key}"):
        merge_patch(
            resource,
            body,
            name=configuration.name,
            namespace=configuration.namespace,
            manager="cleanup",
        )
    run_logger().info("%s: %s", configuration.key, describe_cleanup())


def _api(kind: str) -> str:
    return GATEWAY_API if kind in ("Gateway", "HTTPRoute", "GatewayClass") else LBC_API


def _delete(kube: Kube, obj: ObjectState) -> None:
    if obj.deleting:
        return
    resource = resource_for(kube, {"apiVersion": _api(obj.kind), "kind": obj.kind})
    if resource is None:
        return
    with translated(f"Deleting {obj.key}"):
        try:
            resource.delete(name=obj.name, namespace=obj.namespace or None)
        except Exception as error:
            if not is_not_found(error):
                raise


def _wait_gone(kube: Kube, names: GatewayNames, objects: list[ObjectState], settings: Any) -> None:
    if not objects:
        return

    def left() -> list[str]:
        found = []
        for obj in objects:
            live = read(kube, {"apiVersion": _api(obj.kind), "kind": obj.kind,
                               "metadata": {"name": obj.name, "namespace": obj.namespace}})  # fmt: skip
            if live is not None:
                finalizers = (live.get("metadata") or {}).get("finalizers") or []
                found.append(f"{obj.key} (finalizers {finalizers})")
        return found

    what = ", ".join(obj.key for obj in objects)
    gateway = any(obj.kind == "Gateway" for obj in objects)
    wait_for(
        WAITS.deleted.of(what, note=" (the controller deletes the ALB first)" if gateway else ""),
        riding_out_blips(left, ["(not looked yet)"]),
        until=lambda remaining: not remaining,
        settings=settings,
        describe=lambda remaining: "; ".join(remaining or []) + _events_text(kube, names),
    )


def _events_text(kube: Kube, names: GatewayNames) -> str:
    events = warning_events(kube, namespace=names.namespace, kind="Gateway", name=names.gateway)
    return f"; Warning events: {' | '.join(events)}" if events else ""


#: The AWS Load Balancer Controller's finalizers on the Gateway front door's objects.
CONTROLLER_FINALIZERS = "gateway.k8s.aws/"
#: The label prefix of the TargetGroupBindings it makes for a Gateway's ALB.
GATEWAY_BINDINGS = "gateway.k8s.aws.alb"


@retrying_task
def release_gateway(target: KubeTarget, *, stack: str, names: GatewayNames | None = None) -> bool:
    """Delete the stack's Gateway, routes and configurations without their ALB controller:
    delete each, remove the controller's finalizers (`gateway.k8s.aws/...`; its AWS resources
    must be swept first) and wait until they are gone. False when nothing was there."""
    settings = get_settings()
    names = names or GatewayNames()
    with connect(target) as kube:
        present = _ours(read_front_door(kube, names), stack)
        if not present:
            return False
        bindings = release_bindings(kube, names.namespace, names.gateway, GATEWAY_BINDINGS)
        for obj in present:
            _delete(kube, obj)
            _drop_finalizers(kube, obj)
        _wait_gone(kube, names, present, settings)
        wait_for(
            WAITS.deleted.of(f"the TargetGroupBindings of Gateway {names.gateway_key}"),
            riding_out_blips(
                lambda: bindings_of(kube, names.namespace, names.gateway, GATEWAY_BINDINGS),
                bindings,
            ),
            until=lambda left: not left,
            settings=settings,
            describe=lambda left: f"still there: {len(left or [])}",
        )
    run_logger().warning(
        "Released Gateway %s and its routes and configurations without their controller",
        names.gateway_key,
    )
    return True


def _drop_finalizers(kube: Kube, obj: ObjectState) -> None:
    resource = resource_for(kube, {"apiVersion": _api(obj.kind), "kind": obj.kind})
    live = read(kube, {"apiVersion": _api(obj.kind), "kind": obj.kind,
                       "metadata": {"name": obj.name, "namespace": obj.namespace}})  # fmt: skip
    if resource is None or live is None:
        return
    finalizers = list((live.get("metadata") or {}).get("finalizers") or [])
    kept = [item for item in finalizers if not item.startswith(CONTROLLER_FINALIZERS)]
    if kept == finalizers:
        return
    with translated(f"Releasing {obj.key}"):
        try:
            resource.patch(
                body=[
                    {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
                    {"op": "replace", "path": "/metadata/finalizers", "value": kept},
                ],
                name=obj.name,
                namespace=obj.namespace or None,
                content_type="application/json-patch+json",
            )
        except Exception as error:
            if not is_not_found(error):
                raise
