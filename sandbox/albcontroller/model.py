"""What the controller builds from an Ingress, as v2.17 does: names, tags, listeners, rules (pure).

Only implicit Ingress groups (one Ingress, one ALB) are modelled; the names hash the same
inputs as the real controller, so they look alike and stay stable across restarts.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any

ANNOTATION = "alb.ingress.kubernetes.io/"
FINALIZER = "ingress.k8s.aws/resources"
CLUSTER_TAG = "elbv2.k8s.aws/cluster"
STACK_TAG = "ingress.k8s.aws/stack"
RESOURCE_TAG = "ingress.k8s.aws/resource"
BACKEND_SG_RESOURCE_TAG = "elbv2.k8s.aws/resource"
LB_RESOURCE = "LoadBalancer"
SG_RESOURCE = "ManagedLBSecurityGroup"
DEFAULT_SSL_POLICY = "ELBSecurityPolicy-2016-08"
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


class BuildError(Exception):
    """The Ingress cannot be turned into a model; the text follows "Failed build model due to"."""


@dataclass(frozen=True)
class TargetGroupModel:
    resource_id: str
    name: str
    service: str
    service_port: int | str
    port: int
    target_type: str
    protocol: str
    health_check: dict[str, Any]
    #: A Gateway's target groups carry their TargetGroupConfiguration's tags (None: the stack's).
    tags: dict[str, str] | None = None
    namespace: str | None = None  # the Service's, when not the stack's own


@dataclass(frozen=True)
class RuleModel:
    priority: int
    host: str | None
    paths: tuple[str, ...]
    target_group: str  # TargetGroupModel.resource_id ("" when the action is not a forward)
    #: The listener it belongs to (a Gateway's routes attach per listener); None: every
    #: listener that does not redirect (an Ingress's rules).
    listener_port: int | None = None
    #: The ELBv2 action, when not a forward to target_group (a redirect, a fixed response).
    action: dict[str, Any] | None = None


@dataclass(frozen=True)
class ListenerModel:
    port: int
    protocol: str
    certificates: tuple[str, ...] = ()
    ssl_policy: str | None = None
    redirect_to: int | None = None  # HTTP listeners under ssl-redirect


@dataclass(frozen=True)
class StackModel:
    stack_id: str
    scheme: str
    lb_name: str
    sg_name: str
    tags: dict[str, str]
    listeners: tuple[ListenerModel, ...]
    target_groups: tuple[TargetGroupModel, ...]
    rules: tuple[RuleModel, ...]
    attributes: dict[str, str] = field(default_factory=dict)
    ip_address_type: str = "ipv4"
    inbound_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    waf_acl_arn: str | None = None
    #: The controller's tracking tags: an Ingress's (ingress.k8s.aws/...) or a Gateway's.
    stack_tag: str = STACK_TAG
    resource_tag: str = RESOURCE_TAG
    #: Explicit subnets (a Gateway's loadBalancerSubnets); empty: discovered by role tags.
    subnets: tuple[str, ...] = ()


def _uuid(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
    return digest.hexdigest()


def _clean(text: str) -> str:
    return _NOT_ALNUM.sub("", text)


def load_balancer_name(cluster: str, namespace: str, name: str, scheme: str) -> str:
    uuid = _uuid(cluster, f"{namespace}/{name}", scheme)
    return f"k8s-{_clean(namespace)[:8]}-{_clean(name)[:8]}-{uuid[:10]}"


def security_group_name(cluster: str, namespace: str, name: str) -> str:
    uuid = _uuid(cluster, f"{namespace}/{name}")
    return f"k8s-{_clean(namespace)[:8]}-{_clean(name)[:8]}-{uuid[:10]}"


def backend_security_group_name(cluster: str) -> str:
    return f"k8s-traffic-{_clean(cluster)[:232]}-{_uuid(cluster)[:10]}"


def stack_tags(cluster: str, stack_id: str, stack_tag: str = STACK_TAG) -> dict[str, str]:
    return {CLUSTER_TAG: cluster, stack_tag: stack_id}


def parse_tags(raw: str, annotation: str = "tags") -> dict[str, str]:
    """``k1=v1,k2=v2`` (a map annotation); an entry without ``=`` is an error, as upstream."""
    tags: dict[str, str] = {}
    for entry in (item.strip() for item in raw.split(",")):
        if not entry:
            continue
        if "=" not in entry:
            raise BuildError(
                f"failed to parse stringMap annotation, {ANNOTATION}{annotation}: {raw}"
            )
        key, value = entry.split("=", 1)
        tags[key.strip()] = value.strip()
    return tags


def parse_listen_ports(raw: str | None, *, prefer_tls: bool) -> dict[int, str]:
    if raw is None:
        return {443: "HTTPS"} if prefer_tls else {80: "HTTP"}
    try:
        entries = json.loads(raw)
    except ValueError as error:
        raise BuildError(f"failed to parse listen-ports configuration: `{raw}`: {error}") from None
    if not isinstance(entries, list) or not entries:
        raise BuildError(f"empty listen-ports configuration: `{raw}`")
    ports: dict[int, str] = {}
    for entry in entries:
        for protocol, port in dict(entry).items():
            if not isinstance(port, int) or not 1 <= port <= 65535:
                raise BuildError(f"listen port must be within [1, 65535]: {port}")
            if protocol not in ("HTTP", "HTTPS"):
                raise BuildError(f"listen protocol must be within [HTTP, HTTPS]: {protocol}")
            ports[port] = protocol
    return ports


def parse_inbound_cidrs(raw: str | None, ip_address_type: str) -> tuple[str, ...]:
    """The managed security group's sources: the annotation's, else everyone (IPv6 too when
    dualstack); an IPv6 block on an ipv4 load balancer is refused."""
    if raw is None:
        return ("0.0.0.0/0", "::/0") if ip_address_type != "ipv4" else ("0.0.0.0/0",)
    cidrs: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            network = ipaddress.ip_network(item)
        except ValueError:
            raise BuildError(f"invalid CIDR: {item}") from None
        if network.version == 6 and ip_address_type == "ipv4":
            raise BuildError(f"CIDR {item} is not allowed for ipv4 load balancers")
        cidrs.append(str(network))
    return tuple(cidrs)


def path_patterns(path: str, path_type: str) -> tuple[str, ...]:
    if path_type == "Prefix":
        if path == "/":
            return ("/*",)
        if any(c in path for c in "*?"):
            raise BuildError(f"prefix path shouldn't contain wildcards: {path}")
        base = path.rstrip("/")
        return (base, base + "/*")
    if path_type == "Exact" and any(c in path for c in "*?"):
        raise BuildError(f"exact path shouldn't contain wildcards: {path}")
    return (path,)


def _service_port(service: dict[str, Any], port: int | str) -> dict[str, Any]:
    for item in (service.get("spec") or {}).get("ports") or []:
        if port in (item.get("port"), item.get("name")):
            return dict(item)
    meta = service["metadata"]
    raise BuildError(f"unable to find port {port} on service {meta['namespace']}/{meta['name']}")


def _target_group(
    *,
    cluster: str,
    ingress: dict[str, Any],
    service: dict[str, Any],
    port: int | str,
) -> TargetGroupModel:
    meta, annotations = ingress["metadata"], ingress["metadata"].get("annotations") or {}
    svc_meta = service["metadata"]
    target_type = annotations.get(ANNOTATION + "target-type", "instance")
    if target_type not in ("instance", "ip"):
        raise BuildError(f"unknown targetType: {target_type}")
    protocol = annotations.get(ANNOTATION + "backend-protocol", "HTTP")
    svc_port = _service_port(service, port)
    target_port = svc_port.get("targetPort", svc_port.get("port"))
    if target_type == "instance":
        tg_port = int(svc_port.get("nodePort") or 0)
        if not tg_port:
            raise BuildError(
                "TargetGroup port is empty. When using Instance targets, your service be must of "
                "type 'NodePort' or 'LoadBalancer'"
            )
    else:
        tg_port = target_port if isinstance(target_port, int) else 1
    uuid = _uuid(
        cluster,
        f"{meta['namespace']}/{meta['name']}",
        meta["namespace"],
        meta["name"],
        str(svc_meta.get("uid", "")),
        str(port),
        str(tg_port),
        target_type,
        protocol,
        "HTTP1",
    )
    health = {
        "HealthCheckProtocol": annotations.get(ANNOTATION + "healthcheck-protocol", protocol),
        "HealthCheckPort": annotations.get(ANNOTATION + "healthcheck-port", "traffic-port"),
        "HealthCheckPath": annotations.get(ANNOTATION + "healthcheck-path", "/"),
        "HealthCheckIntervalSeconds": int(
            annotations.get(ANNOTATION + "healthcheck-interval-seconds", 15)
        ),
        "HealthCheckTimeoutSeconds": int(
            annotations.get(ANNOTATION + "healthcheck-timeout-seconds", 5)
        ),
        "HealthyThresholdCount": int(annotations.get(ANNOTATION + "healthy-threshold-count", 2)),
        "UnhealthyThresholdCount": int(
            annotations.get(ANNOTATION + "unhealthy-threshold-count", 2)
        ),
        "Matcher": {"HttpCode": annotations.get(ANNOTATION + "success-codes", "200")},
    }
    return TargetGroupModel(
        resource_id=f"{meta['namespace']}/{meta['name']}-{svc_meta['name']}:{port}",
        name=f"k8s-{_clean(svc_meta['namespace'])[:8]}-{_clean(svc_meta['name'])[:8]}-{uuid[:10]}",
        service=svc_meta["name"],
        service_port=port,
        port=tg_port,
        target_type=target_type,
        protocol=protocol,
        health_check=health,
    )


Backend = tuple[str | None, str, str, str, int | str]


def backends(ingress: dict[str, Any]) -> list[Backend]:
    """(host, path, pathType, service, port) of every path, in rule order."""
    found: list[Backend] = []
    spec = ingress.get("spec") or {}
    for rule in spec.get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            service = (path.get("backend") or {}).get("service")
            if not service:
                raise BuildError('missing required "service" field')
            port = service.get("port") or {}
            found.append(
                (
                    rule.get("host"),
                    path.get("path", "/"),
                    path.get("pathType", "ImplementationSpecific"),
                    service["name"],
                    port.get("number", port.get("name", "")),
                )
            )
    return found


def build_model(
    ingress: dict[str, Any], services: dict[str, dict[str, Any]], *, cluster: str
) -> StackModel:
    """The stack for an Ingress; ``services`` holds the backend Services found in its namespace."""
    meta, annotations = ingress["metadata"], ingress["metadata"].get("annotations") or {}
    namespace, name = meta["namespace"], meta["name"]
    scheme = annotations.get(ANNOTATION + "scheme", "internal")
    if scheme not in ("internal", "internet-facing"):
        raise BuildError(f"unknown scheme: {scheme}")
    certificates = tuple(
        arn.strip()
        for arn in annotations.get(ANNOTATION + "certificate-arn", "").split(",")
        if arn.strip()
    )
    ports = parse_listen_ports(
        annotations.get(ANNOTATION + "listen-ports"), prefer_tls=bool(certificates)
    )
    redirect = annotations.get(ANNOTATION + "ssl-redirect")
    if redirect is not None and ports.get(int(redirect)) != "HTTPS":
        raise BuildError(f"listener for SSLRedirect port {redirect} must be HTTPS")
    ssl_policy = annotations.get(ANNOTATION + "ssl-policy", DEFAULT_SSL_POLICY)
    listeners = tuple(
        ListenerModel(
            port=port,
            protocol=protocol,
            certificates=certificates if protocol == "HTTPS" else (),
            ssl_policy=ssl_policy if protocol == "HTTPS" else None,
            redirect_to=int(redirect) if redirect is not None and protocol == "HTTP" else None,
        )
        for port, protocol in sorted(ports.items())
    )
    groups: dict[str, TargetGroupModel] = {}
    rules: list[RuleModel] = []
    for host, path, path_type, service_name, port in backends(ingress):
        service = services.get(service_name)
        try:  # as upstream, a backend's error names its Ingress
            if service is None:
                raise BuildError(f'services "{service_name}" not found')
            group = _target_group(cluster=cluster, ingress=ingress, service=service, port=port)
        except BuildError as error:
            raise BuildError(f"ingress: {namespace}/{name}: {error}") from None
        groups.setdefault(group.resource_id, group)
        rules.append(
            RuleModel(
                priority=len(rules) + 1,
                host=host,
                paths=path_patterns(path, path_type),
                target_group=group.resource_id,
            )
        )
    attributes = parse_tags(
        annotations.get(ANNOTATION + "load-balancer-attributes", ""), "load-balancer-attributes"
    )
    ip_address_type = annotations.get(ANNOTATION + "ip-address-type", "ipv4")
    if ip_address_type not in ("ipv4", "dualstack", "dualstack-without-public-ipv4"):
        raise BuildError(f"unknown IPAddressType: {ip_address_type}")
    return StackModel(
        stack_id=f"{namespace}/{name}",
        scheme=scheme,
        lb_name=load_balancer_name(cluster, namespace, name, scheme),
        sg_name=security_group_name(cluster, namespace, name),
        tags=parse_tags(annotations.get(ANNOTATION + "tags", "")),
        listeners=listeners,
        target_groups=tuple(groups.values()),
        rules=tuple(rules),
        attributes=attributes,
        ip_address_type=ip_address_type,
        inbound_cidrs=parse_inbound_cidrs(
            annotations.get(ANNOTATION + "inbound-cidrs"), ip_address_type
        ),
        waf_acl_arn=annotations.get(ANNOTATION + "wafv2-acl-arn") or None,
    )
