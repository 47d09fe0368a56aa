"""Who else already holds a stack's names (pure): the Ingress name, the dashboard host, the
`*.<subdomain>` record. Found before anything is created, so a second stack on a cluster fails
at once with the owner's name instead of after its zone, delegation and certificates exist."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core import naming
from core.dnsnames import normalise
from core.kubestate import IngressState
from core.observation import Observation
from core.resources import RecordSetState
from core.spec import StackSpec


@dataclass(frozen=True)
class HostRule:
    """A host an Ingress in the cluster routes, with its Ingress's key and stack label."""

    ingress: str  # namespace/name
    host: str
    stack: str | None


def owner(labels_or_tags: Mapping[str, str]) -> str:
    """How a conflicting owner is named in messages."""
    stack = labels_or_tags.get(naming.STACK_TAG)
    if stack and labels_or_tags.get(naming.MANAGED_BY_TAG) == naming.TOOL:
        return f"kubeflow-alb stack {stack!r}"
    return "something that is not a kubeflow-alb stack"


def conflicts(
    spec: StackSpec,
    seen: Observation,
    *,
    hosts: Iterable[HostRule] = (),
    root_records: Iterable[RecordSetState] = (),
) -> tuple[str, ...]:
    """Every conflict of the stack with what is already in the world, as messages (empty: none).

    Args:
        spec: the stack.
        seen: its observation (our Ingress by `stack.ingressName`, the zone, the `*.` record).
        hosts: the host rules of every Ingress in the cluster.
        root_records: records in the root zone at the dashboard host or `*.<subdomain>`.
    """
    found: list[str] = []
    found += _ingress(spec, seen.ingress)
    dashboard, wildcard = spec.dashboard_host, naming.wildcard(spec.subdomain)
    for rule in hosts:
        if rule.ingress == spec.ingress_key or rule.stack == spec.name:
            continue
        if _covers(normalise(rule.host), dashboard):
            who = f"kubeflow-alb stack {rule.stack!r}" if rule.stack else "another Ingress"
            found.append(
                f"Ingress {rule.ingress} ({who}) already routes host {rule.host}, which covers "
                f"the dashboard {dashboard}; use another subdomain, or remove that rule."
            )
    for served in root_records:
        found.append(
            f"The root zone {spec.root} already has a {served.type} record {served.name}: "
            f"another owner serves {dashboard}; the delegation of {spec.subdomain} would hide it. "
            "Remove it first, or use another subdomain."
        )
    zone = seen.zone
    if zone is not None and not zone.owned and naming.STACK_TAG in zone.tags:
        found.append(
            f"Hosted zone {zone.zone_id} ({zone.name}) belongs to {owner(zone.tags)}; "
            f"stack {spec.name!r} would share its records. Use another subdomain."
        )
    record = seen.dashboard_record
    if record is not None and seen.ingress is None and not (zone and zone.owned):
        found.append(
            f"Record {wildcard} ({record.type}) already exists in zone {spec.subdomain} while "
            f"stack {spec.name!r} has no Ingress yet: it serves something else. Delete it, or "
            "use another subdomain."
        )
    return tuple(found)


def _ingress(spec: StackSpec, ingress: IngressState | None) -> list[str]:
    if ingress is None or ingress.owned_by(spec.name):
        return []
    return [
        f"Ingress {ingress.key} belongs to {owner(ingress.labels)}: set stack.ingressName to "
        f"another name (each stack on a cluster needs its own Ingress), with stack.ingressGroup "
        "to share that stack's ALB."
    ]


def _covers(host: str, name: str) -> bool:
    """True when an Ingress host (exact or `*.` wildcard of one label) matches `name`."""
    if host.startswith("*."):
        return name.count(".") >= 1 and name.split(".", 1)[1] == host[2:]
    return host == name
