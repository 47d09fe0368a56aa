"""Observed Gateway API objects of a front door, and what their status says (pure).

The AWS Load Balancer Controller v3.5.0 writes (controllers/gateway at its tag):
- on a GatewayClass of `gateway.k8s.aws/alb`: `Accepted` True `Accepted`, or False
  `InvalidParametersRef` / `NotFound` (its LoadBalancerConfiguration);
- on a Gateway: `Accepted` True `Accepted` (False `ListenersNotValid` when every listener is
  invalid), `Programmed` Unknown `Pending` "Waiting for load balancer to be active." until the ALB
  is active, then True `Programmed` with the ALB's ARN as message, and the ALB's DNS name as its
  one `Hostname` address. A failure sets `Accepted` False `Invalid` with the error (a missing
  LoadBalancerConfiguration, a class not accepted) or, when building or deploying the ALB fails,
  "Check Gateway Events for more information." and a Warning Event (`FailedBuildModel`,
  `FailedDeployModel`, ...) that says why; it then retries.
- on each route parent: `ResolvedRefs` and `Accepted`, True, or False with the reason
  (`BackendNotFound`, `NoMatchingParent`, `ParentRefDoesNotExist`...).
Before any controller acts, the Gateway API CRDs default both Gateway conditions to Unknown
`Pending` "Waiting for controller".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from core import naming
from core.kubestate import ApplyReport
from core.resources import StateModel

#: The message of a Gateway whose ALB could not be built or deployed (the controller retries).
RECONCILE_ERROR = "Check Gateway Events for more information."


class Condition(StateModel):
    """One status condition."""

    type: str
    status: str
    reason: str = ""
    message: str = ""
    observed_generation: int | None = None

    def text(self) -> str:
        message = f": {self.message}" if self.message else ""
        return f"{self.type}={self.status} ({self.reason}{message})"


class ObjectState(StateModel):
    """A Gateway API or controller object as read: identity, labels, spec, status conditions."""

    kind: str
    namespace: str = ""
    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    spec: dict[str, Any] = Field(default_factory=dict)
    generation: int = 0
    conditions: tuple[Condition, ...] = ()
    finalizers: tuple[str, ...] = ()
    deleting: bool = False

    @property
    def key(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    def condition(self, kind: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == kind), None)

    def owned_by(self, stack: str) -> bool:
        return naming.is_owned(self.labels, stack)


class GatewayState(ObjectState):
    """The Gateway, with the addresses the controller wrote (the ALB's DNS name)."""

    addresses: tuple[str, ...] = ()

    @property
    def hostname(self) -> str | None:
        return self.addresses[0] if self.addresses else None


class RouteParent(StateModel):
    """A route's status for one parent: which Gateway and listener, by which controller."""

    gateway: str
    section: str | None = None
    controller: str = ""
    conditions: tuple[Condition, ...] = ()


class RouteState(ObjectState):
    """An HTTPRoute, with its status per parent."""

    parents: tuple[RouteParent, ...] = ()


class FrontDoorState(StateModel):
    """Everything of one stack's Gateway front door that exists."""

    gateway_class: ObjectState | None = None
    gateway: GatewayState | None = None
    routes: tuple[RouteState, ...] = ()
    load_balancer_configuration: ObjectState | None = None
    target_group_configuration: ObjectState | None = None


class CrdsState(StateModel):
    """The Gateway API CRDs as a look found them: which bundled ones are missing, whether a
    kubeflow-alb stack installed any, and why another tool's cannot serve the controller."""

    bundle: str
    missing: tuple[str, ...] = ()
    #: How many of the bundled objects the cluster has.
    present: int = 0
    ours: bool = False
    problem: str | None = None


class FrontDoorOutcome(StateModel):
    """What an apply of the front door did, and the objects as they are after it."""

    state: FrontDoorState
    applied: ApplyReport


class Verdict(StateModel):
    """What the status says: ready (programmed, with an address), failed, or still waiting."""

    ready: bool = False
    failure: str | None = Field(
        default=None, description="A failure the controller cannot get past without a change."
    )
    retrying: str | None = Field(
        default=None, description="A failure the controller retries (it may pass)."
    )
    waiting: str = ""


def conditions_of(live: Mapping[str, Any]) -> tuple[Condition, ...]:
    """A live object's `status.conditions`."""
    return _conditions((live.get("status") or {}).get("conditions"))


def _conditions(raw: Any) -> tuple[Condition, ...]:
    return tuple(
        Condition(
            type=str(item.get("type", "")),
            status=str(item.get("status", "")),
            reason=str(item.get("reason") or ""),
            message=str(item.get("message") or ""),
            observed_generation=item.get("observedGeneration"),
        )
        for item in raw or []
        if isinstance(item, Mapping)
    )


def object_state(live: Mapping[str, Any]) -> ObjectState:
    """Any object of the front door, read."""
    return ObjectState(**_common(live))


def gateway_state(live: Mapping[str, Any]) -> GatewayState:
    addresses = (live.get("status") or {}).get("addresses") or []
    return GatewayState(
        **_common(live),
        addresses=tuple(str(a.get("value")) for a in addresses if a.get("value")),
    )


def route_state(live: Mapping[str, Any]) -> RouteState:
    parents = []
    for item in (live.get("status") or {}).get("parents") or []:
        ref = item.get("parentRef") or {}
        parents.append(
            RouteParent(
                gateway=str(ref.get("name", "")),
                section=ref.get("sectionName"),
                controller=str(item.get("controllerName") or ""),
                conditions=_conditions(item.get("conditions")),
            )
        )
    return RouteState(**_common(live), parents=tuple(parents))


def _common(live: Mapping[str, Any]) -> dict[str, Any]:
    meta = live.get("metadata") or {}
    return {
        "kind": str(live.get("kind", "")),
        "namespace": str(meta.get("namespace") or ""),
        "name": str(meta.get("name", "")),
        "labels": dict(meta.get("labels") or {}),
        "spec": dict(live.get("spec") or {}),
        "generation": int(meta.get("generation") or 0),
        "conditions": conditions_of(live),
        "finalizers": tuple(meta.get("finalizers") or ()),
        "deleting": bool(meta.get("deletionTimestamp")),
    }


def judge(door: FrontDoorState) -> Verdict:
    """Whether the controller has built the front door's ALB, failed, or is still at it."""
    gateway = door.gateway
    if gateway is None:
        return Verdict(waiting="the Gateway does not exist")
    klass = door.gateway_class
    refused = klass.condition("Accepted") if klass is not None else None
    if refused is not None and refused.status == "False":
        return Verdict(failure=f"{klass.key if klass else 'GatewayClass'}: {refused.text()}")
    for route in door.routes:
        problem = _route_problem(route, gateway.name)
        if problem:
            return Verdict(failure=problem)
    accepted, programmed = gateway.condition("Accepted"), gateway.condition("Programmed")
    if accepted is None or accepted.status == "Unknown":
        return Verdict(waiting=f"{gateway.key}: no controller has taken it yet ({_texts(gateway)})")
    if not _current(accepted, gateway):
        return Verdict(
            waiting=f"{gateway.key}: the controller has not seen generation {gateway.generation} "
            f"yet ({_texts(gateway)})"
        )
    if accepted.status == "False":
        if accepted.message == RECONCILE_ERROR:
            return Verdict(retrying=f"{gateway.key}: {accepted.text()}")
        return Verdict(failure=f"{gateway.key}: {accepted.text()}")
    done = programmed is not None and programmed.status == "True" and gateway.hostname
    if done and _current(programmed, gateway):
        return Verdict(ready=True)
    return Verdict(waiting=f"{gateway.key}: {_texts(gateway)}")


def _route_problem(route: RouteState, gateway: str) -> str | None:
    for parent in route.parents:
        if parent.gateway != gateway:
            continue
        for condition in parent.conditions:
            current = condition.observed_generation in (None, route.generation)
            if current and condition.status == "False":
                where = f"{route.key} (parent {gateway}/{parent.section or '*'})"
                return f"{where}: {condition.text()}"
    return None


def _current(condition: Condition | None, obj: ObjectState) -> bool:
    """Written for the object's current generation (a stale one says nothing about it)."""
    if condition is None:
        return False
    return condition.observed_generation in (None, obj.generation)


def _texts(obj: ObjectState) -> str:
    return ", ".join(c.text() for c in obj.conditions) or "no conditions"
