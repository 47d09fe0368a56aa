"""Declared and observed fields of the Gateway front door (pure): the Gateway API CRDs it needs,
and its objects (GatewayClass, Gateway, the HTTPS and HTTP-redirect HTTPRoutes, the
controller's LoadBalancerConfiguration and TargetGroupConfiguration), one item each, whose
fields are the spec we declare (`spec.<path>`) and our labels. A live object is compared only
where we declare something: what the API server or the controller defaults stays out."""

from __future__ import annotations

import json
from typing import Any

from core import naming
from core.alb_facts import facts_fields
from core.desired import certificate_requests
from core.gateway import configure_gateway, gateway_names, gateway_params
from core.gateway_alb import desired_alb_from_gateway
from core.gateway_state import ObjectState
from core.manifests import Manifest
from core.observation import Observation
from core.plan import PRESENT, Item
from core.spec import StackSpec
from core.state import Kind

Fields = dict[str, str]
Found = dict[tuple[Kind, str], Fields | None]

GATEWAY_API_KEY = "Gateway API CRDs"
SERVED = "served"


def is_gateway(spec: StackSpec) -> bool:
    """Whether the stack's front door is the Gateway (stack.frontDoor: gateway)."""
    return spec.stack.front_door == "gateway"


def gateway_objects(
    spec: StackSpec, seen: Observation, *, arns: tuple[str, ...] | None = None
) -> list[Manifest] | None:
    """The front door's objects as the stack wants them (the bundled base with the stack's
    parameters), in apply order; `arns` as apply made them, else as observed (one not known
    yet is PRESENT). None when the base was not read."""
    if seen.gateway_source is None:
        return None
    if arns is None:
        found = (seen.certificates.get(request.domain) for request in certificate_requests(spec))
        arns = tuple(state.arn for state in found if state is not None) or (PRESENT,)
    return configure_gateway(seen.gateway_source, gateway_params(spec, arns))


def object_key(obj: Manifest) -> str:
    """An object's item key, as `ObjectState.key` says it (`Gateway istio-system/name`)."""
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {where}{meta.get('name')}"


def gateway_key(spec: StackSpec) -> str:
    return f"Gateway {gateway_names(spec).gateway_key}"


def desired_gateway_alb(
    spec: StackSpec, seen: Observation, objects: list[Manifest] | None
) -> Fields:
    """The declared fields of the ALB the controller builds from these objects."""
    if objects is None:
        return {"state": "active", "scheme": spec.kubeflow.alb.scheme}
    facts = desired_alb_from_gateway(
        objects, cluster=spec.cluster.name, target_port=seen.gateway_target_port
    )
    return facts_fields(facts)


def gateway_api_items(spec: StackSpec, seen: Observation) -> list[Item]:
    if not is_gateway(spec):
        return []
    return [Item(Kind.GATEWAY_API, GATEWAY_API_KEY, {"crds": SERVED})]


def gateway_api_found(spec: StackSpec, seen: Observation) -> Found:
    crds = seen.gateway_crds
    if crds is None or not is_gateway(spec):
        return {}
    if not crds.present and not crds.problem:
        return {}  # none of them: to install
    value = crds.problem or (f"missing {', '.join(crds.missing)}" if crds.missing else SERVED)
    return {(Kind.GATEWAY_API, GATEWAY_API_KEY): {"crds": value}}


def gateway_items(spec: StackSpec, seen: Observation) -> list[Item]:
    if not is_gateway(spec):
        return []
    objects = gateway_objects(spec, seen)
    if objects is None:
        return [Item(Kind.GATEWAY, gateway_key(spec), {})]
    return [Item(Kind.GATEWAY, object_key(obj), _declared(obj)) for obj in objects]


def gateway_found(spec: StackSpec, seen: Observation) -> Found:
    door, objects = seen.gateway, gateway_objects(spec, seen)
    if door is None or objects is None or not is_gateway(spec):
        return {}
    live = {
        item.key: item
        for item in (door.gateway_class, door.gateway, *door.routes,
                     door.load_balancer_configuration, door.target_group_configuration)
        if item is not None
    }  # fmt: skip
    found: Found = {}
    for obj in objects:
        item = live.get(object_key(obj))
        if item is not None:
            found[(Kind.GATEWAY, object_key(obj))] = _observed(obj, item)
    return found


def _labels(obj: Manifest) -> dict[str, str]:
    """Our labels: a GatewayClass is the cluster's (any kubeflow-alb stack's), so only ours."""
    names = (naming.MANAGED_BY_TAG,) if obj.get("kind") == "GatewayClass" else (
        naming.STACK_TAG, naming.MANAGED_BY_TAG)  # fmt: skip
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return {f"label:{name}": str(labels.get(name, "")) for name in names}


def _declared(obj: Manifest) -> Fields:
    fields = _labels(obj)
    _flatten("spec", obj.get("spec") or {}, fields)
    return fields


def _observed(obj: Manifest, item: ObjectState) -> Fields:
    live = {"metadata": {"labels": item.labels}, "kind": item.kind}
    fields = _labels(live)
    seen: Fields = {}
    _flatten("spec", _project(obj.get("spec") or {}, item.spec), seen)
    wanted = _declared(obj)
    fields.update({name: seen.get(name, "") for name in wanted if name.startswith("spec")})
    return fields


def _flatten(prefix: str, value: Any, into: Fields) -> None:
    """Maps become one field per key (`spec.a.b`); anything else one field (lists as JSON)."""
    if isinstance(value, dict) and value:
        for name in sorted(value):
            _flatten(f"{prefix}.{name}", value[name], into)
        return
    into[prefix] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _project(want: Any, got: Any) -> Any:
    """What of `got` answers what `want` declares: keys we do not set, in maps and in the
    elements of lists of the same length, are left out (server and controller defaults);
    PRESENT is satisfied by any value."""
    if want == PRESENT and got is not None:
        return PRESENT
    if isinstance(want, dict) and isinstance(got, dict):
        return {name: _project(value, got[name]) for name, value in want.items() if name in got}
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [_project(w, g) for w, g in zip(want, got, strict=True)]
    return got


def former_key(spec: StackSpec, seen: Observation) -> str | None:
    """The stack's front door of the other kind than it declares, when one is found (a switch
    of stack.frontDoor not finished yet)."""
    if is_gateway(spec):
        ingress = seen.ingress
        found = ingress is not None and ingress.owned_by(spec.name)
        return f"Ingress {spec.ingress_key}" if found else None
    door = seen.gateway.gateway if seen.gateway is not None else None
    return f"Gateway {door.namespace}/{door.name}" if door and door.owned_by(spec.name) else None


def former_items(spec: StackSpec, seen: Observation) -> list[Item]:
    key = former_key(spec, seen)
    return [Item(Kind.FORMER_FRONT_DOOR, key, absent=True)] if key else []


def former_found(spec: StackSpec, seen: Observation) -> Found:
    key = former_key(spec, seen)
    return {(Kind.FORMER_FRONT_DOOR, key): {}} if key else {}
