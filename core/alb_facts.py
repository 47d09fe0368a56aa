"""The facts of an ALB, desired or observed, and their flat comparable fields (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

#: The controller's default action on a listener that does not redirect: rules do the routing.
NOT_FOUND_ACTION = "fixed-response 404 text/plain"
#: Tags the controller puts on what it creates, besides the tags annotation's.
CLUSTER_TAG = "elbv2.k8s.aws/cluster"
STACK_TAG = "ingress.k8s.aws/stack"
RESOURCE_TAG = "ingress.k8s.aws/resource"
#: What the controller's ALB Gateway controller tags instead (stack: `<namespace>/<gateway>`).
GATEWAY_STACK_TAG = "gateway.k8s.aws.alb/stack"
GATEWAY_RESOURCE_TAG = "gateway.k8s.aws.alb/resource"
LB_RESOURCE = "LoadBalancer"
#: The value of an empty list (no rules, no SNI certificates, no listeners).
NONE = "none"


@dataclass(frozen=True)
class ListenerFacts:
    """One listener: default certificate, SNI certificates, policy, default action, rules."""

    protocol: str
    port: int
    certificate: str | None = None
    sni_certificates: tuple[str, ...] = ()
    ssl_policy: str | None = None
    action: str = NOT_FOUND_ACTION
    rules: tuple[str, ...] | None = ()  # None: not declared (a redirecting listener has none)

    @property
    def key(self) -> str:
        return f"{self.protocol}:{self.port}"


@dataclass(frozen=True)
class TargetGroupFacts:
    """The target group behind the listeners' rules (values already normalised)."""

    resource_id: str
    target_type: str
    protocol: str
    port: str
    health_check: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AlbFacts:
    """The facts of one ALB; `subnets` None when they are not known (not compared)."""

    scheme: str
    listeners: tuple[ListenerFacts, ...]
    target_group: TargetGroupFacts | None
    tags: Mapping[str, str] = field(default_factory=dict)
    state: str = "active"
    subnets: tuple[str, ...] | None = None
    #: The fields of the ALB options (core/alb_options.py), named and normalised: the
    #: attributes and the options' own fields (waf-acl, inbound-cidrs, ip-address-type).
    options: Mapping[str, str] = field(default_factory=dict)


def facts_fields(facts: AlbFacts) -> dict[str, str]:
    """Flatten facts into `field name -> value`; lists sorted, `none` for an empty one."""
    fields = {"state": facts.state, "scheme": facts.scheme}
    if facts.subnets is not None:
        fields["subnets"] = _joined(facts.subnets)
    fields["listeners"] = _joined(listener.key for listener in facts.listeners)
    for listener in facts.listeners:
        prefix = f"listener {listener.key}"
        fields[f"{prefix} action"] = listener.action
        if listener.rules is not None:
            fields[f"{prefix} rules"] = "; ".join(listener.rules) or NONE
        if listener.protocol == "HTTPS":
            fields[f"{prefix} certificate"] = listener.certificate or NONE
            fields[f"{prefix} sni-certificates"] = _joined(listener.sni_certificates)
            fields[f"{prefix} ssl-policy"] = listener.ssl_policy or NONE
    group = facts.target_group
    if group is not None:
        fields["target-group target-type"] = group.target_type
        fields["target-group protocol"] = group.protocol
        fields["target-group port"] = group.port
        for name, value in group.health_check.items():
            fields[f"target-group health-check {name}"] = value
        for name, value in group.tags.items():
            fields[f"target-group tag {name}"] = value
    fields.update(facts.options)
    for name, value in facts.tags.items():
        fields[f"tag {name}"] = value
    return fields


def _joined(values: Iterable[str]) -> str:
    return ",".join(sorted(values)) or NONE


def rule_text(priority: str, conditions: Mapping[str, Sequence[str]], actions: str) -> str:
    """One rule, normalised: conditions by field, values sorted."""
    parts = [f"{name}={','.join(sorted(values))}" for name, values in sorted(conditions.items())]
    return f"{priority} {' '.join(parts)} -> {actions}"


def path_patterns(path: str, *, prefix: bool) -> tuple[str, ...]:
    """The ALB path patterns of a path: a prefix match is the path itself and everything below
    it (`/` alone is `/*`), an exact one the path as written."""
    if not prefix:
        return (path,)
    if path == "/":
        return ("/*",)
    base = path.rstrip("/")
    return (base, base + "/*")
