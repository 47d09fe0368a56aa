"""What the controller's ALB Gateway controller (v3.5.0) builds from a Gateway (pure).

A Gateway of a class with ``controllerName: gateway.k8s.aws/alb``, its LoadBalancerConfiguration,
the HTTPRoutes attached to its listeners and their Services, and the TargetGroupConfigurations
that apply, become a `StackModel` (the same the Ingress path deploys) plus the status the
controller writes: per listener the routes attached, per route parent its conditions. Names,
tags, defaults and error texts are the real controller's (``pkg/gateway/model``,
``pkg/gateway/routeutils`` at v3.5.0).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from sandbox.albcontroller.gateway_backends import (
    RouteResult,
    backend_target_group,
    clean,
    redirect_action,
    uuid_of,
)
from sandbox.albcontroller.model import (
    BuildError,
    ListenerModel,
    RuleModel,
    StackModel,
    TargetGroupModel,
    path_patterns,
)

GATEWAY_STACK_TAG = "gateway.k8s.aws.alb/stack"
GATEWAY_RESOURCE_TAG = "gateway.k8s.aws.alb/resource"
DEFAULT_SSL_POLICY = "ELBSecurityPolicy-2016-08"
GATEWAY_GROUP = "gateway.networking.k8s.io"
PARENT_NOT_MATCHED = "Route parentRef does not match listener"
NAMESPACE_NOT_MATCHED = (
    "Listener does not allow route attachment, namespace does not match between listener and route"
)


@dataclass
class GatewayBuild:
    """The model, and the status the controller writes from what it loaded."""

    model: StackModel
    routes: list[RouteResult] = field(default_factory=list)
    attached: dict[str, int] = field(default_factory=dict)  # listener name -> routes
    invalid_listeners: dict[str, tuple[str, str]] = field(default_factory=dict)  # reason, message


def load_balancer_name(cluster: str, gateway: dict[str, Any], scheme: str) -> str:
    meta = gateway["metadata"]
    uuid = uuid_of(cluster, str(meta.get("uid", "")), scheme)
    return f"k8s-{clean(meta['namespace'])[:8]}-{clean(meta['name'])[:8]}-{uuid[:10]}"


def security_group_name(cluster: str, gateway: dict[str, Any]) -> str:
    meta = gateway["metadata"]
    uuid = uuid_of(cluster, meta["name"], meta["namespace"], str(meta.get("uid", "")))
    return f"k8s-{clean(meta['namespace'])[:8]}-{clean(meta['name'])[:8]}-{uuid[:10]}"


def _listeners(gateway: dict[str, Any], build: GatewayBuild) -> list[dict[str, Any]]:
    """The listeners the ALB controller accepts (HTTP and HTTPS, valid ports)."""
    valid = []
    for listener in (gateway.get("spec") or {}).get("listeners") or []:
        name, port, protocol = listener["name"], int(listener["port"]), listener["protocol"]
        if not 1 <= port <= 65535:
            build.invalid_listeners[name] = (
                "PortUnavailable",
                f"Port {port} is not available (listener name {name})",
            )
        elif protocol not in ("HTTP", "HTTPS"):
            build.invalid_listeners[name] = (
                "UnsupportedProtocol",
                f"Unsupported protocol {protocol} for listener {name}",
            )
        else:
            valid.append(listener)
        build.attached[name] = 0
    return valid


def _parent_refs(route: dict[str, Any], gateway: dict[str, Any]) -> list[dict[str, Any]]:
    meta, gw_meta = route["metadata"], gateway["metadata"]
    found = []
    for ref in (route.get("spec") or {}).get("parentRefs") or []:
        if ref.get("group", GATEWAY_GROUP) != GATEWAY_GROUP or ref.get("kind", "Gateway") != (
            "Gateway"
        ):
            continue
        if (
            ref.get("name") == gw_meta["name"]
            and (ref.get("namespace") or meta["namespace"]) == gw_meta["namespace"]
        ):
            found.append(ref)
    return found


def _matching(
    ref: dict[str, Any], route: dict[str, Any], gateway: dict[str, Any], listeners: list[Any]
) -> tuple[list[dict[str, Any]], str | None]:
    """The listeners a parentRef attaches to, or why none (a reason's message)."""
    chosen = [
        item
        for item in listeners
        if ref.get("sectionName") in (None, item["name"])
        and ref.get("port") in (None, item["port"])
    ]
    if not chosen:
        return [], PARENT_NOT_MATCHED
    same = route["metadata"]["namespace"] == gateway["metadata"]["namespace"]
    allowed = [
        item
        for item in chosen
        if same or ((item.get("allowedRoutes") or {}).get("namespaces") or {}).get("from") == "All"
    ]
    return allowed, None if allowed else NAMESPACE_NOT_MATCHED


def build_gateway_model(
    gateway: dict[str, Any],
    config: dict[str, Any],
    routes: list[dict[str, Any]],
    services: dict[tuple[str, str], dict[str, Any]],
    configurations: list[dict[str, Any]],
    *,
    default_props: dict[str, Any],
    cluster: str,
) -> GatewayBuild:
    """The stack of a Gateway: ``config`` is its (merged) LoadBalancerConfiguration spec,
    ``services`` the Services by (namespace, name), ``configurations`` every
    TargetGroupConfiguration, ``default_props`` the default TargetGroupConfiguration's."""
    meta = gateway["metadata"]
    scheme = str(config.get("scheme") or "internal")
    if scheme not in ("internal", "internet-facing"):
        raise BuildError(f"unknown scheme: {scheme}")
    ip_type = str(config.get("ipAddressType") or "ipv4")
    build = GatewayBuild(model=StackModel("", "", "", "", {}, (), (), ()))
    listeners = _listeners(gateway, build)
    groups: dict[str, TargetGroupModel] = {}
    rules: list[RuleModel] = []
    ports_with_routes: set[int] = set()
    for route in sorted(routes, key=lambda r: (r["metadata"].get("creationTimestamp", ""),
                                               r["metadata"]["namespace"], r["metadata"]["name"])):  # fmt: skip
        for ref in _parent_refs(route, gateway):
            attached, problem = _matching(ref, route, gateway, listeners)
            if problem:
                reason = (
                    "NoMatchingParent" if problem == PARENT_NOT_MATCHED else "NotAllowedByListeners"
                )
                build.routes.append(
                    _result(route, ref, accepted=False, reason=reason, message=problem)
                )
                continue
            failure = None
            for listener in attached:
                build.attached[listener["name"]] += 1
                ports_with_routes.add(int(listener["port"]))
                made, failure = _route_rules(
                    route, listener, gateway, services, configurations, default_props,
                    cluster=cluster, groups=groups,
                    first_priority=1 + sum(r.listener_port == int(listener["port"]) for r in rules),
                )  # fmt: skip
                rules += made
            if failure is not None:  # the route still attaches; its backend does not resolve
                build.routes.append(dataclasses.replace(failure, parent_ref=ref))
            else:
                build.routes.append(_result(route, ref))
    certificates = _certificates(config)
    model_listeners = []
    for listener in sorted(listeners, key=lambda item: int(item["port"])):
        port = int(listener["port"])
        if port not in ports_with_routes:
            continue  # materialised only once a route attaches
        https = listener["protocol"] == "HTTPS"
        certs = certificates.get(port, ())
        if https and not certs:
            raise BuildError(
                f"No hostnames found for TLS cert discovery for listener on gateway "
                f"{meta['namespace']}/{meta['name']} with protocol:port HTTPS:{port}"
            )
        model_listeners.append(
            ListenerModel(
                port=port,
                protocol=listener["protocol"],
                certificates=certs if https else (),
                ssl_policy=_ssl_policy(config, port) if https else None,
            )
        )
    build.model = StackModel(
        stack_id=f"{meta['namespace']}/{meta['name']}",
        scheme=scheme,
        lb_name=str(config.get("loadBalancerName") or load_balancer_name(cluster, gateway, scheme)),
        sg_name=security_group_name(cluster, gateway),
        tags={str(k): str(v) for k, v in (config.get("tags") or {}).items()},
        listeners=tuple(model_listeners),
        target_groups=tuple(groups.values()),
        rules=tuple(rules),
        attributes={
            str(a["key"]): str(a["value"]) for a in config.get("loadBalancerAttributes") or []
        },
        ip_address_type=ip_type,
        inbound_cidrs=_source_ranges(config.get("sourceRanges"), ip_type),
        waf_acl_arn=((config.get("wafV2") or {}).get("webACL")) or None,
        stack_tag=GATEWAY_STACK_TAG,
        resource_tag=GATEWAY_RESOURCE_TAG,
        subnets=tuple(
            str(s["identifier"])
            for s in config.get("loadBalancerSubnets") or []
            if s.get("identifier")
        ),
    )
    return build


def _result(route: dict[str, Any], ref: dict[str, Any], **status: Any) -> RouteResult:
    meta = route["metadata"]
    return RouteResult(namespace=meta["namespace"], name=meta["name"], parent_ref=ref, **status)


def _certificates(config: dict[str, Any]) -> dict[int, tuple[str, ...]]:
    found: dict[int, tuple[str, ...]] = {}
    for item in config.get("listenerConfigurations") or []:
        protocol, _, port = str(item.get("protocolPort", "")).partition(":")
        if protocol.upper() not in ("HTTPS", "TLS") or not port.isdigit():
            continue
        certs = [item["defaultCertificate"]] if item.get("defaultCertificate") else []
        found[int(port)] = tuple(certs + list(item.get("certificates") or []))
    return found


def _ssl_policy(config: dict[str, Any], port: int) -> str:
    for item in config.get("listenerConfigurations") or []:
        if str(item.get("protocolPort", "")).upper() == f"HTTPS:{port}":
            return str(item.get("sslPolicy") or DEFAULT_SSL_POLICY)
    return DEFAULT_SSL_POLICY


def _source_ranges(raw: Any, ip_type: str) -> tuple[str, ...]:
    ranges = list(raw) if raw else ["0.0.0.0/0", "::/0"]
    cidrs = []
    for item in ranges:
        try:
            network = ipaddress.ip_network(str(item))
        except ValueError:
            raise BuildError(f"invalid CIDR: {item}") from None
        if network.version == 6 and ip_type == "ipv4":
            continue  # IPv6 rules only on a dualstack load balancer
        cidrs.append(str(network))
    return tuple(cidrs)


def _route_rules(
    route: dict[str, Any],
    listener: dict[str, Any],
    gateway: dict[str, Any],
    services: dict[tuple[str, str], dict[str, Any]],
    configurations: list[dict[str, Any]],
    default_props: dict[str, Any],
    *,
    cluster: str,
    groups: dict[str, TargetGroupModel],
    first_priority: int,
) -> tuple[list[RuleModel], RouteResult | None]:
    """One ALB rule per route rule, match and hostname; a backend that cannot be loaded makes
    its rule answer 500 and the route's ResolvedRefs False (the rest is still built)."""
    spec, port = route.get("spec") or {}, int(listener["port"])
    hostnames: list[str | None] = [str(h).lower() for h in spec.get("hostnames") or []]
    hostnames = hostnames or [None]
    if listener.get("hostname"):
        hostnames = [str(listener["hostname"]).lower()]
    rules: list[RuleModel] = []
    failure: RouteResult | None = None
    for rule in spec.get("rules") or []:
        action: dict[str, Any] | None = None
        target = ""
        redirect = next(
            (f for f in rule.get("filters") or [] if f.get("type") == "RequestRedirect"), None
        )
        if redirect is not None:
            action = redirect_action(redirect.get("requestRedirect") or {})
        else:
            for backend in rule.get("backendRefs") or []:
                group, problem = backend_target_group(route, backend, gateway, services, configurations,
                                          default_props, cluster)  # fmt: skip
                if problem is not None:
                    failure = failure or problem
                    continue
                assert group is not None
                groups.setdefault(group.resource_id, group)
                target = target or group.resource_id
            if not target:
                action = {"Type": "fixed-response", "FixedResponseConfig": {
                    "ContentType": "text/plain", "StatusCode": "500"}}  # fmt: skip
        matches = rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]
        for match in matches:
            path = match.get("path") or {"type": "PathPrefix", "value": "/"}
            kind = {"PathPrefix": "Prefix", "Exact": "Exact"}.get(str(path.get("type")), "Exact")
            for hostname in hostnames:
                rules.append(
                    RuleModel(
                        priority=first_priority + len(rules),
                        host=hostname,
                        paths=path_patterns(str(path.get("value", "/")), kind),
                        target_group=target,
                        listener_port=port,
                        action=action,
                    )
                )
    return rules, failure
