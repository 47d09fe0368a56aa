"""The ALB the AWS Load Balancer Controller builds from our Ingress, as flat comparable fields (pure).

The Ingress annotations are how the ALB is set; these facts are what is verified. Both sides
end as one `dict[str, str]` (field name -> normalised value), so the planner compares the
desired ALB with the observed one key by key, and only on the keys the desired side declares.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from core import naming
from core.alb_facts import (
    CLUSTER_TAG,
    LB_RESOURCE,
    NONE,
    RESOURCE_TAG,
    STACK_TAG,
    AlbFacts,
    ListenerFacts,
    TargetGroupFacts,
    facts_fields,
    path_patterns,
    rule_text,
)
from core.alb_observed import observed_alb
from core.alb_options import ALB_PREFIX, desired_fields, parse_pairs
from core.errors import SpecError
from core.plan import PRESENT
from core.resources import LoadBalancerState

__all__ = [
    "CLUSTER_TAG",
    "LB_RESOURCE",
    "NONE",
    "RECONCILE_ANNOTATION",
    "RESOURCE_TAG",
    "STACK_TAG",
    "AlbFacts",
    "ListenerFacts",
    "TargetGroupFacts",
    "alb_fields",
    "desired_alb",
    "desired_alb_fields",
    "facts_fields",
    "observed_alb",
    "service_target_port",
]

#: Annotation an apply bumps (to a timestamp) to make the controller reconcile the front door
#: now (it reconciles an Ingress or a Gateway on any update of it and puts the ALB back).
RECONCILE_ANNOTATION = "kubeflow-alb.io/reconcile"
#: The controller's SSL policy when the Ingress names none.
CONTROLLER_SSL_POLICY = "ELBSecurityPolicy-2016-08"
#: Health-check annotations the controller always applies, with its defaults when absent.
_HEALTH_DEFAULTS = {"path": "/", "port": "traffic-port", "success-codes": "200"}
#: Health-check annotations declared only when the Ingress sets them.
_HEALTH_OPTIONAL = {
    "interval-seconds": "healthcheck-interval-seconds",
    "timeout-seconds": "healthcheck-timeout-seconds",
    "healthy-threshold-count": "healthy-threshold-count",
    "unhealthy-threshold-count": "unhealthy-threshold-count",
}


def desired_alb(
    ingress: Mapping[str, Any],
    *,
    cluster: str,
    subnets: Sequence[str] | None = None,
    target_port: int | None = None,
) -> AlbFacts:
    """The ALB the controller builds from this rendered Ingress (as v2.17 does).

    Args:
        ingress: the Ingress manifest we apply (core.manifests.configure_ingress's result).
        cluster: the EKS cluster name (the controller's cluster tag).
        subnets: the subnets the controller should pick, if known; None: not compared.
        target_port: the gateway pods' port behind the Service port (ip targets); None: any.
    """
    meta = ingress.get("metadata") or {}
    namespace = str(meta.get("namespace") or naming.INGRESS_NAMESPACE)
    name = str(meta.get("name") or naming.INGRESS_NAME)
    where = f"Ingress {namespace}/{name}"
    notes = {
        key.removeprefix(ALB_PREFIX): str(value)
        for key, value in (meta.get("annotations") or {}).items()
        if key.startswith(ALB_PREFIX)
    }
    user_tags = parse_pairs(notes.get("tags", ""), "tags", where)
    # An explicit IngressGroup is one controller stack, named after the group.
    stack_id = str(notes.get("group.name") or f"{namespace}/{name}")
    controller_tags = {CLUSTER_TAG: cluster, STACK_TAG: stack_id}
    group = _target_group(ingress, notes, where, target_port=target_port)
    if group is not None:
        tags = {**user_tags, **controller_tags, RESOURCE_TAG: group.resource_id}
        group = dataclasses.replace(group, tags=tags)
    listeners = _listeners(notes, _rules(ingress), where)
    return AlbFacts(
        scheme=notes.get("scheme", "internal").lower(),
        listeners=tuple(listeners),
        target_group=group,
        tags={**user_tags, **controller_tags, RESOURCE_TAG: LB_RESOURCE},
        subnets=None if subnets is None else tuple(subnets),
        options=desired_fields(notes, where=where),
    )


def _listeners(notes: Mapping[str, str], rules: tuple[str, ...], where: str) -> list[ListenerFacts]:
    """The listeners the controller makes from the Ingress's listen-ports, certificates and
    ssl-redirect annotations (HTTP redirects when ssl-redirect is set; HTTPS serves the rules)."""
    raw_certificates = notes.get("certificate-arn", "")
    certificates = [arn.strip() for arn in raw_certificates.split(",") if arn.strip()]
    redirect = notes.get("ssl-redirect")
    listeners = []
    for port, protocol in sorted(_listen_ports(notes, bool(certificates), where).items()):
        if protocol == "HTTP" and redirect is not None:
            action = f"redirect HTTPS:{redirect.strip()} HTTP_301"
            listeners.append(ListenerFacts(protocol, port, action=action, rules=None))
            continue
        if protocol == "HTTPS":
            present = raw_certificates.strip() == PRESENT
            listeners.append(
                ListenerFacts(
                    protocol,
                    port,
                    certificate=PRESENT if present else (certificates[0] if certificates else None),
                    sni_certificates=(PRESENT,) if present else tuple(certificates[1:]),
                    ssl_policy=notes.get("ssl-policy", CONTROLLER_SSL_POLICY),
                    rules=rules,
                )
            )
            continue
        listeners.append(ListenerFacts(protocol, port, rules=rules))
    return listeners


def desired_alb_fields(
    ingress: Mapping[str, Any],
    *,
    cluster: str,
    subnets: Sequence[str] | None = None,
    target_port: int | None = None,
) -> dict[str, str]:
    """The declared fields of the ALB for this Ingress (see `desired_alb`)."""
    return facts_fields(
        desired_alb(ingress, cluster=cluster, subnets=subnets, target_port=target_port)
    )


def alb_fields(state: LoadBalancerState) -> dict[str, str]:
    """The observed ALB's fields, named and normalised like `desired_alb_fields`'s."""
    return facts_fields(observed_alb(state))


def service_target_port(service: Mapping[str, Any], port: int | str = 80) -> int | None:
    """The pods' port behind a Service port: an ip target group's port (`desired_alb`'s
    `target_port`). None when the port is missing or its targetPort is a name."""
    for item in (service.get("spec") or {}).get("ports") or []:
        if port in (item.get("port"), item.get("name")):
            target = item.get("targetPort", item.get("port"))
            return target if isinstance(target, int) else None
    return None


def _listen_ports(notes: Mapping[str, str], tls: bool, where: str) -> dict[int, str]:
    raw = notes.get("listen-ports")
    if raw is None:
        return {443: "HTTPS"} if tls else {80: "HTTP"}
    problem = f"{where}: annotation {ALB_PREFIX}listen-ports {raw!r} is not like "
    try:
        entries = json.loads(raw)
        ports = {
            int(port): str(protocol).upper()
            for entry in entries
            for protocol, port in dict(entry).items()
        }
    except (ValueError, TypeError, AttributeError):
        raise SpecError(problem + '[{"HTTP": 80}, {"HTTPS": 443}].') from None
    if not ports:
        raise SpecError(problem + '[{"HTTP": 80}, {"HTTPS": 443}].')
    return ports


def _backends(ingress: Mapping[str, Any]) -> list[tuple[str | None, str, str, str, str]]:
    """(host, path, pathType, service, port) of every path, in rule order."""
    found = []
    for rule in (ingress.get("spec") or {}).get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            service = (path.get("backend") or {}).get("service") or {}
            port = service.get("port") or {}
            found.append(
                (
                    rule.get("host"),
                    str(path.get("path", "/")),
                    str(path.get("pathType", "ImplementationSpecific")),
                    str(service.get("name", "")),
                    str(port.get("number", port.get("name", ""))),
                )
            )
    return found


def _target_group(
    ingress: Mapping[str, Any], notes: Mapping[str, str], where: str, *, target_port: int | None
) -> TargetGroupFacts | None:
    """The target group of the gateway Service (or of the first backend)."""
    backends = _backends(ingress)
    if not backends:
        return None
    ours = [b for b in backends if b[3] == naming.INGRESS_SERVICE] or backends
    _, _, _, service, port = ours[0]
    meta = ingress.get("metadata") or {}
    stack_id = f"{meta.get('namespace', naming.INGRESS_NAMESPACE)}/{meta.get('name')}"
    protocol = notes.get("backend-protocol", "HTTP").upper()
    health = {"protocol": notes.get("healthcheck-protocol", protocol).upper()}
    for name, default in _HEALTH_DEFAULTS.items():
        health[name] = notes.get(
            f"healthcheck-{name}" if name != "success-codes" else name, default
        )
    health["success-codes"] = health["success-codes"].replace(" ", "")
    health.update(
        {
            name: notes[annotation]
            for name, annotation in _HEALTH_OPTIONAL.items()
            if annotation in notes
        }
    )
    target_type = notes.get("target-type", "instance").lower()
    known_port = target_port is not None and target_type == "ip"
    return TargetGroupFacts(
        resource_id=f"{stack_id}-{service}:{port}",
        target_type=target_type,
        protocol=protocol,
        port=str(target_port) if known_port else PRESENT,
        health_check=health,
    )


def _rules(ingress: Mapping[str, Any]) -> tuple[str, ...]:
    """`<priority> <condition>=<values> -> forward <target group>`, one per Ingress path."""
    rules = []
    meta = ingress.get("metadata") or {}
    stack_id = f"{meta.get('namespace', naming.INGRESS_NAMESPACE)}/{meta.get('name')}"
    for priority, (host, path, path_type, service, port) in enumerate(_backends(ingress), 1):
        conditions = {"path-pattern": path_patterns(path, prefix=path_type == "Prefix")}
        if host:
            conditions["host-header"] = (host.lower(),)
        # Named by the controller's resource id for the group, as observed rules are.
        target = f"{stack_id}-{service}:{port}"
        rules.append(rule_text(str(priority), conditions, f"forward {target}"))
    return tuple(rules)
