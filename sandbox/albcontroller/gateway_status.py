"""The status the ALB Gateway controller (v3.5.0) writes, built as it builds it (pure).

Texts and reasons are the controller's (``controllers/gateway``, ``pkg/gateway/constants``):
a Gateway is `Accepted` once one listener is valid, `Programmed` Unknown `Pending` "Waiting for
load balancer to be active." until the ALB is active, then True with the ALB's ARN; a failure
sets `Accepted` False `Invalid` with the error (and `Programmed` False when its routes were
loaded). A condition is rewritten only when its status, reason, message or generation changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sandbox.albcontroller.gateway_backends import RouteResult
from sandbox.kube.jsoncopy import json_copy

CONTROLLER = "gateway.k8s.aws/alb"
GROUP = "gateway.networking.k8s.io"
PENDING_MESSAGE = "Waiting for load balancer to be active."
RECONCILE_ERROR_MESSAGE = "Check Gateway Events for more information."
#: The most a condition message holds (the controller cuts longer ones and adds "...").
MAX_MESSAGE = 32700
_KINDS = {"HTTP": ["HTTPRoute"], "HTTPS": ["HTTPRoute", "GRPCRoute"]}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: list[dict[str, Any]],
    kind: str,
    status: str,
    reason: str,
    message: str,
    generation: int,
) -> bool:
    """Set one condition in place (prepareGatewayConditionUpdate); False when nothing changed."""
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + "..."
    wanted = {"status": status, "reason": reason, "message": message,
              "observedGeneration": generation}  # fmt: skip
    for item in conditions:
        if item.get("type") == kind:
            if all(item.get(k) == v for k, v in wanted.items()):
                return False
            item.update(wanted, lastTransitionTime=now())
            return True
    conditions.append({"type": kind, **wanted, "lastTransitionTime": now()})
    return True


def _listener_conditions(
    generation: int, invalid: tuple[str, str] | None, programmed: bool
) -> list[dict[str, Any]]:
    stamp = now()

    def condition(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
        return {"type": kind, "status": status, "reason": reason, "message": message,
                "observedGeneration": generation, "lastTransitionTime": stamp}  # fmt: skip

    reason, message = invalid or ("Accepted", "Listener is accepted.")
    if invalid is None:
        done = ("True", "Programmed", "Listener is programmed.") if programmed else (
            "False", "Pending", "Listener is pending to be programmed.")  # fmt: skip
    else:
        done = ("False", reason, "Listener is not accepted.")
    return [
        condition("Conflicted", "False", "NoConflicts", "Listener has no conflict."),
        condition("Accepted", "False" if invalid else "True", reason, message),
        condition("ResolvedRefs", "True", "ResolvedRefs", "Listener has all refs resolved."),
        condition("Programmed", *done),
    ]


def listener_statuses(
    gateway: dict[str, Any],
    attached: dict[str, int],
    invalid: dict[str, tuple[str, str]],
    *,
    programmed: bool,
) -> list[dict[str, Any]]:
    generation = int(gateway["metadata"].get("generation") or 1)
    statuses = []
    for listener in (gateway.get("spec") or {}).get("listeners") or []:
        name = listener["name"]
        kinds = _KINDS.get(listener.get("protocol", ""), [])
        statuses.append(
            {
                "name": name,
                "supportedKinds": [{"group": GROUP, "kind": kind} for kind in kinds],
                "attachedRoutes": attached.get(name, 0),
                "conditions": _listener_conditions(generation, invalid.get(name), programmed),
            }
        )
    return statuses


def _same_listeners(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> bool:
    """Equal but for the conditions' transition times."""

    def strip(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        result = json_copy(items)
        for item in result:
            for condition in item.get("conditions") or []:
                condition.pop("lastTransitionTime", None)
        return sorted(result, key=lambda item: str(item.get("name")))

    return strip(old) == strip(new)


def success_status(
    gateway: dict[str, Any],
    *,
    dns_name: str,
    arn: str,
    active: bool,
    attached: dict[str, int],
    invalid: dict[str, tuple[str, str]],
) -> dict[str, Any] | None:
    """The Gateway's status after a deploy (None when it is already so)."""
    status = json_copy(gateway.get("status") or {})
    conditions = status.setdefault("conditions", [])
    generation = int(gateway["metadata"].get("generation") or 1)
    if active:
        changed = set_condition(conditions, "Programmed", "True", "Programmed", arn, generation)
    else:
        changed = set_condition(
            conditions, "Programmed", "Unknown", "Pending", PENDING_MESSAGE, generation
        )
    valid = [n for n in attached if n not in invalid]
    accepted = "True" if valid else "False"
    reason = "ListenersNotValid" if invalid else "Accepted"
    changed = set_condition(conditions, "Accepted", accepted, reason, "", generation) or changed
    address = [{"type": "Hostname", "value": dns_name.lower()}]
    if status.get("addresses") != address:
        status["addresses"] = address
        changed = True
    listeners = listener_statuses(gateway, attached, invalid, programmed=active)
    if not _same_listeners(status.get("listeners") or [], listeners):
        status["listeners"] = listeners
        changed = True
    return status if changed else None


def failure_status(
    gateway: dict[str, Any], message: str, *, loaded: bool, reason: str = "Invalid"
) -> dict[str, Any] | None:
    """`Accepted` False (and `Programmed` False once the routes were loaded); None: unchanged."""
    status = json_copy(gateway.get("status") or {})
    conditions = status.setdefault("conditions", [])
    generation = int(gateway["metadata"].get("generation") or 1)
    changed = set_condition(conditions, "Accepted", "False", reason, message, generation)
    if loaded:
        changed = (
            set_condition(conditions, "Programmed", "False", "Programmed", message, generation)
            or changed
        )
    return status if changed else None


def route_parents(route: dict[str, Any], results: list[RouteResult]) -> list[dict[str, Any]] | None:
    """The route's `status.parents` with the results for its parents (None: unchanged)."""
    generation = int(route["metadata"].get("generation") or 1)
    parents = json_copy((route.get("status") or {}).get("parents") or [])
    changed = False
    for result in results:
        conditions: list[dict[str, Any]] = [
            {"type": "ResolvedRefs", "status": "True" if result.resolved else "False",
             "reason": "ResolvedRefs" if result.resolved else result.reason,
             "message": "" if result.resolved else result.message},
            {"type": "Accepted", "status": "True" if result.accepted else "False",
             "reason": "Accepted" if result.accepted else result.reason,
             "message": "" if result.accepted else result.message},
        ]  # fmt: skip
        for condition in conditions:
            condition["observedGeneration"] = generation
        entry = next((p for p in parents if _same_ref(p.get("parentRef"), result.parent_ref)), None)
        if entry is None:
            entry = {"parentRef": result.parent_ref, "controllerName": CONTROLLER, "conditions": []}
            parents.append(entry)
        old = [{k: v for k, v in c.items() if k != "lastTransitionTime"}
               for c in entry.get("conditions") or []]  # fmt: skip
        if old != conditions or entry.get("controllerName") != CONTROLLER:
            stamp = now()
            entry["controllerName"] = CONTROLLER
            entry["conditions"] = [{**c, "lastTransitionTime": stamp} for c in conditions]
            changed = True
    return parents if changed else None


def _same_ref(one: Any, other: dict[str, Any]) -> bool:
    if not isinstance(one, dict):
        return False
    fields = ("group", "kind", "namespace", "name", "sectionName", "port")
    return all(one.get(name) == other.get(name) for name in fields)
