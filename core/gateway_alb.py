"""The ALB the AWS Load Balancer Controller builds from Gateway objects, as facts (pure).

The same facts as `core.alb.desired_alb` gives for the Ingress (listeners, redirect,
certificates, TLS policy, target group and health check, attributes, tags), so the ALB of
either front door is verified field by field the same way. Where v3.5.0's ALB Gateway
controller builds the ALB differently from its Ingress controller, the facts say so:

- HTTP :80 redirects by a rule (priority 1, the route's hostnames, `/*`), its default action
  is the 404 every Gateway listener has; the Ingress's ssl-redirect is the listener's default.
- Rules match the routes' hostnames (`host-header`), one rule per hostname and path match.
- The controller's tags are `gateway.k8s.aws.alb/stack` (`<namespace>/<gateway>`) and
  `gateway.k8s.aws.alb/resource`, not `ingress.k8s.aws/...`; a target group's resource id
  names the Gateway, the route and the Service (`ns/gw:ns-route:HTTPRoute-ns-svc:port`).
- Defaults where nothing is set: scheme `internal`, TLS policy `ELBSecurityPolicy-2016-08`,
  target type `instance`, health check matcher `200-399` (the Ingress: `200`).
Rule order follows the routes as declared (the controller orders by precedence; our routes have
one rule each).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from core.alb_facts import (
    CLUSTER_TAG,
    GATEWAY_RESOURCE_TAG,
    GATEWAY_STACK_TAG,
    LB_RESOURCE,
    AlbFacts,
    ListenerFacts,
    TargetGroupFacts,
    path_patterns,
    rule_text,
)
from core.alb_options import desired_fields
from core.errors import SpecError
from core.manifests import Manifest
from core.plan import PRESENT

#: The controller's defaults (v3.5.0 `--default-ssl-policy`, `--default-load-balancer-scheme`).
CONTROLLER_SSL_POLICY = "ELBSecurityPolicy-2016-08"
CONTROLLER_SCHEME = "internal"
CONTROLLER_MATCHER = "200-399"
_OPTIONAL_HEALTH = {
    "interval-seconds": "healthCheckInterval",
    "timeout-seconds": "healthCheckTimeout",
    "healthy-threshold-count": "healthyThresholdCount",
    "unhealthy-threshold-count": "unhealthyThresholdCount",
}


def desired_alb_from_gateway(
    objects: Iterable[Manifest],
    *,
    cluster: str,
    subnets: Sequence[str] | None = None,
    target_port: int | None = None,
) -> AlbFacts:
    """The ALB the controller builds from these configured Gateway objects
    (`core.gateway.configure_gateway`'s result).

    Args:
        objects: the Gateway, its HTTPRoutes, LoadBalancerConfiguration and
            TargetGroupConfiguration (a GatewayClass among them is ignored).
        cluster: the EKS cluster name (the controller's cluster tag).
        subnets: the subnets the controller should pick, if known; None: not compared.
        target_port: the gateway pods' port behind the Service port (ip targets); None: any.
    """
    found = _index(objects)
    gateway = found["Gateway"][0]
    meta = gateway.get("metadata") or {}
    gw_key = f"{meta.get('namespace')}/{meta.get('name')}"
    config = _spec(found.get("LoadBalancerConfiguration"))
    props = _spec(found.get("TargetGroupConfiguration")).get("defaultConfiguration") or {}
    controller_tags = {CLUSTER_TAG: cluster, GATEWAY_STACK_TAG: gw_key}
    groups: dict[str, TargetGroupFacts] = {}
    listeners = []
    for listener in sorted((gateway.get("spec") or {}).get("listeners") or [], key=_port):
        routes = _attached(found.get("HTTPRoute", []), meta, str(listener.get("name")))
        if not routes:  # the controller materialises a listener only once a route attaches
            continue
        rules = _rules(routes, gw_key, props, controller_tags, groups, target_port)
        listeners.append(_listener(listener, config, rules))
    chosen = sorted(groups.values(), key=lambda group: group.resource_id)
    return AlbFacts(
        scheme=str(config.get("scheme") or CONTROLLER_SCHEME).lower(),
        listeners=tuple(listeners),
        target_group=chosen[0] if chosen else None,
        tags={**_tags(config), **controller_tags, GATEWAY_RESOURCE_TAG: LB_RESOURCE},
        subnets=None if subnets is None else tuple(subnets),
        options=desired_fields(_as_annotations(config), where="LoadBalancerConfiguration"),
    )


def _as_annotations(config: Mapping[str, Any]) -> dict[str, str]:
    """A LoadBalancerConfiguration's options as the Ingress annotations that say the same (the
    option table reads both front doors' options one way)."""
    notes: dict[str, str] = {}
    attributes = config.get("loadBalancerAttributes") or []
    if attributes:
        notes["load-balancer-attributes"] = ",".join(
            f"{item['key']}={item['value']}" for item in attributes
        )
    if "ipAddressType" in config:
        notes["ip-address-type"] = str(config["ipAddressType"]).lower()
    if "wafV2" in config:
        notes["wafv2-acl-arn"] = str((config["wafV2"] or {}).get("webACL") or "")
    if "sourceRanges" in config:
        notes["inbound-cidrs"] = ",".join(str(cidr) for cidr in config["sourceRanges"] or [])
    return notes


def _index(objects: Iterable[Manifest]) -> dict[str, list[Manifest]]:
    found: dict[str, list[Manifest]] = {}
    for obj in objects:
        found.setdefault(str(obj.get("kind")), []).append(obj)
    if len(found.get("Gateway", [])) != 1:
        raise SpecError("Expected exactly one Gateway among the front door's objects.")
    return found


def _spec(objects: list[Manifest] | None) -> Mapping[str, Any]:
    return (objects[0].get("spec") or {}) if objects else {}


def _port(listener: Mapping[str, Any]) -> int:
    return int(listener.get("port") or 0)


def _tags(spec: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (spec.get("tags") or {}).items()}


def _attached(
    routes: list[Manifest], gateway_meta: Mapping[str, Any], section: str
) -> list[Manifest]:
    """Routes in the Gateway's namespace whose parentRefs name it (and this listener, or none)."""
    attached = []
    for route in routes:
        meta = route.get("metadata") or {}
        if meta.get("namespace") != gateway_meta.get("namespace"):
            continue  # our listeners allow routes from the same namespace only
        for ref in (route.get("spec") or {}).get("parentRefs") or []:
            if ref.get("kind", "Gateway") != "Gateway" or ref.get("name") != gateway_meta.get(
                "name"
            ):
                continue
            if ref.get("sectionName") in (None, section):
                attached.append(route)
                break
    return attached


def _listener(
    listener: Mapping[str, Any], config: Mapping[str, Any], rules: tuple[str, ...]
) -> ListenerFacts:
    protocol, port = str(listener.get("protocol")).upper(), _port(listener)
    if protocol != "HTTPS":
        return ListenerFacts(protocol, port, rules=rules)
    settings: Mapping[str, Any] = next(
        (
            item
            for item in config.get("listenerConfigurations") or []
            if str(item.get("protocolPort", "")).upper() == f"HTTPS:{port}"
        ),
        {},
    )
    return ListenerFacts(
        protocol,
        port,
        certificate=settings.get("defaultCertificate"),
        sni_certificates=tuple(settings.get("certificates") or ()),
        ssl_policy=str(settings.get("sslPolicy") or CONTROLLER_SSL_POLICY),
        rules=rules,
    )


def _rules(
    routes: list[Manifest],
    gw_key: str,
    props: Mapping[str, Any],
    controller_tags: Mapping[str, str],
    groups: dict[str, TargetGroupFacts],
    target_port: int | None,
) -> tuple[str, ...]:
    """One rule per route rule, path match and hostname, numbered from 1."""
    texts: list[str] = []
    for route in routes:
        spec = route.get("spec") or {}
        hostnames: list[str | None] = [str(h).lower() for h in spec.get("hostnames") or []]
        hostnames = hostnames or [None]
        for rule in spec.get("rules") or []:
            action = _action(rule, route, gw_key, props, controller_tags, groups, target_port)
            matches = rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]
            for match in matches:
                for hostname in hostnames:
                    conditions = {"path-pattern": _path_patterns(match.get("path") or {})}
                    if hostname:
                        conditions["host-header"] = (hostname,)
                    texts.append(rule_text(str(len(texts) + 1), conditions, action))
    return tuple(texts)


def _action(
    rule: Mapping[str, Any],
    route: Manifest,
    gw_key: str,
    props: Mapping[str, Any],
    controller_tags: Mapping[str, str],
    groups: dict[str, TargetGroupFacts],
    target_port: int | None,
) -> str:
    for item in rule.get("filters") or []:
        if item.get("type") == "RequestRedirect":
            return _redirect(item.get("requestRedirect") or {})
    names = []
    for backend in rule.get("backendRefs") or []:
        group = _target_group(route, backend, gw_key, props, controller_tags, target_port)
        groups.setdefault(group.resource_id, group)
        names.append(group.resource_id)
    if not names:
        return "fixed-response 500 text/plain"
    return f"forward {'+'.join(sorted(names))}"


def _redirect(config: Mapping[str, Any]) -> str:
    scheme = str(config.get("scheme") or "").upper()
    port = config.get("port") or {"HTTP": 80, "HTTPS": 443}.get(scheme)
    text = f"redirect {scheme or '#{protocol}'}:{port or '#{port}'} HTTP_{config.get('statusCode', 302)}"
    if config.get("hostname"):
        text += f" host={config['hostname']}"
    path = config.get("path") or {}
    if path.get("type") == "ReplaceFullPath":
        text += f" path={path.get('replaceFullPath')}"
    return text


def _target_group(
    route: Manifest,
    backend: Mapping[str, Any],
    gw_key: str,
    props: Mapping[str, Any],
    controller_tags: Mapping[str, str],
    target_port: int | None,
) -> TargetGroupFacts:
    meta = route.get("metadata") or {}
    namespace = str(backend.get("namespace") or meta.get("namespace"))
    resource_id = (
        f"{gw_key}:{meta.get('namespace')}-{meta.get('name')}:HTTPRoute-"
        f"{namespace}-{backend.get('name')}:{backend.get('port')}"
    )
    protocol = str(props.get("protocol") or "HTTP").upper()
    check = props.get("healthCheckConfig") or {}
    health = {
        "protocol": str(check.get("healthCheckProtocol") or protocol).upper(),
        "port": str(check.get("healthCheckPort") or "traffic-port"),
        "path": str(check.get("healthCheckPath") or "/"),
        "success-codes": str((check.get("matcher") or {}).get("httpCode") or CONTROLLER_MATCHER),
    }
    health["success-codes"] = health["success-codes"].replace(" ", "")
    health.update(
        {name: str(check[field]) for name, field in _OPTIONAL_HEALTH.items() if field in check}
    )
    target_type = str(props.get("targetType") or "instance").lower()
    known = target_port is not None and target_type == "ip"
    return TargetGroupFacts(
        resource_id=resource_id,
        target_type=target_type,
        protocol=protocol,
        port=str(target_port) if known else PRESENT,
        health_check=health,
        tags={**_tags(props), **controller_tags, GATEWAY_RESOURCE_TAG: resource_id},
    )


def _path_patterns(path: Mapping[str, Any]) -> tuple[str, ...]:
    prefix = path.get("type", "PathPrefix") == "PathPrefix"
    return path_patterns(str(path.get("value", "/")), prefix=prefix)
