"""A Gateway route's actions and Service backends as the ALB Gateway controller builds them
(v3.5.0, pure): redirects, target groups with their names, tags and health checks, and the
route status of a backend that cannot be loaded."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from sandbox.albcontroller.model import BuildError, TargetGroupModel
from sandbox.albcontroller.tgconfig import target_group_props

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
_REDIRECT_PORTS = {"HTTP": "80", "HTTPS": "443"}
ACCEPTED_MESSAGE = "Route is accepted by Gateway"


@dataclass(frozen=True)
class RouteResult:
    """The status of one route for one of its parentRefs."""

    namespace: str
    name: str
    parent_ref: dict[str, Any]
    accepted: bool = True
    resolved: bool = True
    reason: str = "Accepted"
    message: str = ACCEPTED_MESSAGE


def uuid_of(*parts: str) -> str:
    """The hex sha256 of the parts, as the controller hashes names."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
    return digest.hexdigest()


def clean(text: str) -> str:
    return _NOT_ALNUM.sub("", text)


def redirect_action(config: dict[str, Any]) -> dict[str, Any]:
    redirect: dict[str, str] = {"StatusCode": f"HTTP_{config.get('statusCode', 302)}"}
    if config.get("scheme"):
        scheme = str(config["scheme"]).upper()
        if scheme not in _REDIRECT_PORTS:
            raise BuildError(f"unsupported redirect scheme: {scheme}")
        redirect["Protocol"] = scheme
        redirect["Port"] = _REDIRECT_PORTS[scheme]
    if config.get("port"):
        redirect["Port"] = str(config["port"])
    if config.get("hostname"):
        redirect["Host"] = str(config["hostname"])
    path = config.get("path") or {}
    if path.get("type") == "ReplaceFullPath":
        redirect["Path"] = str(path.get("replaceFullPath"))
    return {"Type": "redirect", "RedirectConfig": redirect}


def backend_target_group(
    route: dict[str, Any],
    backend: dict[str, Any],
    gateway: dict[str, Any],
    services: dict[tuple[str, str], dict[str, Any]],
    configurations: list[dict[str, Any]],
    default_props: dict[str, Any],
    cluster: str,
) -> tuple[TargetGroupModel | None, RouteResult | None]:
    route_meta, gw_meta = route["metadata"], gateway["metadata"]
    namespace = str(backend.get("namespace") or route_meta["namespace"])
    name, port = str(backend.get("name")), backend.get("port")
    service = services.get((namespace, name))
    if service is None:
        message = f"Service ({namespace}:{name}) not found)"
        return None, unresolved(route, message)
    svc_port = next(
        (p for p in (service.get("spec") or {}).get("ports") or [] if p.get("port") == port),
        None,
    )
    if svc_port is None:
        return None, unresolved(route, f"Unable to find service port for port {port}")
    props = target_group_props(configurations, default_props, namespace, name, route)
    target_type = str(props.get("targetType") or "instance")
    protocol = str(props.get("protocol") or "HTTP")
    if target_type == "ip":
        target = svc_port.get("targetPort", svc_port.get("port"))
        tg_port = target if isinstance(target, int) else 1
    else:
        tg_port = int(svc_port.get("nodePort") or 0)
        if not tg_port:
            raise BuildError(
                "TargetGroup port is empty. When using Instance targets, your service must be of "
                "type 'NodePort' or 'LoadBalancer'"
            )
    check = props.get("healthCheckConfig") or {}
    health = {
        "HealthCheckProtocol": str(check.get("healthCheckProtocol") or protocol),
        "HealthCheckPort": str(check.get("healthCheckPort") or "traffic-port"),
        "HealthCheckPath": str(check.get("healthCheckPath") or "/"),
        "HealthCheckIntervalSeconds": int(check.get("healthCheckInterval") or 15),
        "HealthCheckTimeoutSeconds": int(check.get("healthCheckTimeout") or 5),
        "HealthyThresholdCount": int(check.get("healthyThresholdCount") or 3),
        "UnhealthyThresholdCount": int(check.get("unhealthyThresholdCount") or 3),
        "Matcher": {"HttpCode": str((check.get("matcher") or {}).get("httpCode") or "200-399")},
    }
    uuid = uuid_of(cluster, gw_meta["namespace"], gw_meta["name"], route_meta["namespace"],
                 route_meta["name"], "HTTPRoute", namespace, name, str(tg_port), target_type,
                 protocol, "HTTP1")  # fmt: skip
    resource_id = (
        f"{gw_meta['namespace']}/{gw_meta['name']}:{route_meta['namespace']}-{route_meta['name']}"
        f":HTTPRoute-{namespace}-{name}:{port}"
    )
    return (
        TargetGroupModel(
            resource_id=resource_id,
            name=str(
                props.get("targetGroupName")
                or f"k8s-{clean(route_meta['namespace'])[:8]}-"
                f"{clean(route_meta['name'])[:8]}-{uuid[:10]}"
            ),  # fmt: skip
            service=name,
            service_port=int(port or 0),
            port=tg_port,
            target_type=target_type,
            protocol=protocol,
            health_check=health,
            tags={str(k): str(v) for k, v in (props.get("tags") or {}).items()},
            namespace=namespace,
        ),
        None,
    )


def unresolved(route: dict[str, Any], message: str) -> RouteResult:
    return RouteResult(
        namespace=route["metadata"]["namespace"],
        name=route["metadata"]["name"],
        parent_ref={},
        resolved=False,
        reason="BackendNotFound",
        message=message,
    )
