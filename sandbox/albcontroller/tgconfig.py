"""How the controller merges its configurations (v3.5.0, pure): a GatewayClass's and a Gateway's
LoadBalancerConfiguration, and the TargetGroupConfigurations that apply to a Service backend.

LoadBalancerConfigurations: with both, the `mergingMode` of the class's one (default
`prefer-gateway-class`) picks the winner of each field; `tags`, `loadBalancerAttributes` and
`listenerConfigurations` (by `protocolPort`) are combined, the winner's value kept for a key in
both. TargetGroupConfigurations: a Service's own (a `targetReference` to it, in its namespace)
overrides the Gateway's default one field by field (`tags` and `targetGroupAttributes` by key),
and its `routeConfigurations` override its `defaultConfiguration` for the most specific route
identifier that matches (kind, namespace and name; kind and namespace; kind).
"""

from __future__ import annotations

from typing import Any

from sandbox.kube.jsoncopy import json_copy

PREFER_CLASS = "prefer-gateway-class"
_BY_KEY = {"tags": None, "loadBalancerAttributes": "key", "listenerConfigurations": "protocolPort"}
_PROPS_BY_KEY = {"tags": None, "targetGroupAttributes": "key"}


def _combine(low: Any, high: Any, item_key: str | None) -> Any:
    if item_key is None:  # a map
        return {**(low or {}), **(high or {})}
    merged = {str(item.get(item_key)): item for item in low or []}
    merged.update({str(item.get(item_key)): item for item in high or []})
    return list(merged.values())


def merge_load_balancer_configurations(
    class_spec: dict[str, Any] | None, gateway_spec: dict[str, Any] | None
) -> dict[str, Any]:
    """The effective LoadBalancerConfiguration spec of a Gateway."""
    if class_spec is None or gateway_spec is None:
        return json_copy(class_spec or gateway_spec or {})
    prefer_class = (class_spec.get("mergingMode") or PREFER_CLASS) == PREFER_CLASS
    high, low = (class_spec, gateway_spec) if prefer_class else (gateway_spec, class_spec)
    merged = {**json_copy(low), **json_copy(high)}
    for name, item_key in _BY_KEY.items():
        if name in low or name in high:
            merged[name] = _combine(low.get(name), high.get(name), item_key)
    merged.pop("mergingMode", None)
    return merged


def _merge_props(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    merged = {**json_copy(low), **json_copy(high)}
    for name, item_key in _PROPS_BY_KEY.items():
        if name in low or name in high:
            merged[name] = _combine(low.get(name), high.get(name), item_key)
    return merged


def _route_props(spec: dict[str, Any], route: dict[str, Any]) -> dict[str, Any]:
    meta = route["metadata"]
    best: tuple[int, dict[str, Any]] | None = None
    for item in spec.get("routeConfigurations") or []:
        ident = item.get("routeIdentifier") or {}
        if ident.get("kind") != "HTTPRoute":
            continue
        if ident.get("namespace") and ident["namespace"] != meta["namespace"]:
            continue
        if ident.get("name") and ident["name"] != meta["name"]:
            continue
        score = bool(ident.get("namespace")) + bool(ident.get("name"))
        if best is None or score > best[0]:
            best = (score, item.get("targetGroupProps") or {})
    return best[1] if best else {}


def target_group_props(
    configurations: list[dict[str, Any]],
    default_props: dict[str, Any],
    namespace: str,
    service: str,
    route: dict[str, Any],
) -> dict[str, Any]:
    """The target group properties for a Service backend of `route`."""
    own = next(
        (
            item
            for item in configurations
            if item["metadata"].get("namespace") == namespace
            and ((item.get("spec") or {}).get("targetReference") or {}).get("name") == service
            and ((item.get("spec") or {}).get("targetReference") or {}).get("kind", "Service")
            == "Service"
        ),
        None,
    )
    if own is None:
        return json_copy(default_props)
    spec = own.get("spec") or {}
    props = _merge_props(spec.get("defaultConfiguration") or {}, _route_props(spec, route))
    return _merge_props(default_props, props)
