"""Who else owns what a stack would write (pure): the one owner check of setup.

Setup never changes an IAM policy or role no kubeflow-alb stack made, an Ingress, host or
`*.<subdomain>` record that is someone else's, or a zone of another stack. A shared item another
stack of the cluster uses (core.sharing: the controller, its IAM, the OIDC provider) is no
conflict: this stack becomes one more of its users. Found in the observation (and, for other
stacks' Ingress hosts and the root zone's records, in what tasks/preflight_stacks.py reads),
before anything is made, every conflict is named in one error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core import identity, naming
from core.controller_versions import RELEASES
from core.dnsnames import normalise
from core.errors import OwnershipError, PreflightError
from core.observation import Observation, controller_is_ours
from core.resources import RecordSetState
from core.spec import StackSpec


class OwnerConflict(OwnershipError, PreflightError):
    """Something setup would write belongs to another owner; nothing was created."""


@dataclass(frozen=True)
class MemberEvent:
    """The controller's latest verdict on an Ingress of an IngressGroup: its last build event."""

    ingress: str  # namespace/name
    reason: str  # FailedBuildModel, SuccessfullyReconciled, ...
    message: str


_NAMED = re.compile(r"ingress: ([^\s:]+/[^\s:]+):")


def failing_group(spec: StackSpec, latest: Iterable[MemberEvent]) -> list[str]:
    """The conflict of joining an IngressGroup whose other members do not build: the controller
    builds a group's ALB only when every member builds, so the stack's Ingress would get none."""
    group = spec.stack.ingress_group
    failed = [e for e in latest if e.reason == "FailedBuildModel" and e.ingress != spec.ingress_key]
    if group is None or not failed:
        return []
    named = {m.group(1) for e in failed if (m := _NAMED.search(e.message))} - {spec.ingress_key}
    culprits = ", ".join(sorted(named or {e.ingress for e in failed}))
    return [
        f"IngressGroup {group} does not build: the controller reports for Ingress "
        f"{failed[-1].ingress}: {failed[-1].message}. It builds the group's ALB only when every "
        f"member builds, so stack {spec.name!r} would get no ALB. Fix or remove Ingress "
        f"{culprits} first, or set another stack.ingressGroup."
    ]


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
    recorded: Iterable[str] = (),
    hosts: Iterable[HostRule] = (),
    root_records: Iterable[RecordSetState] = (),
    group_events: Iterable[MemberEvent] = (),
) -> tuple[str, ...]:
    """Every conflict of the stack with what is already in the world, one line each (empty:
    none).

    Args:
        spec: the stack.
        seen: its observation (the controller's IAM is read only when the controller is ours).
        recorded: ids of DNS records in the stack's block (`<zone id>/<name>/<type>`): ours.
        hosts: the host rules of every Ingress in the cluster (not read: no host conflicts).
        root_records: records in the root zone at the dashboard host or `*.<subdomain>`.
        group_events: the latest build event of each other member of the stack's IngressGroup.
    """
    found = _iam(spec, seen)
    found += failing_group(spec, group_events)
    found += _ingress(spec, seen)
    found += _hosts(spec, hosts)
    found += [
        f"The root zone {spec.root} already has a {served.type} record {served.name}: another "
        f"owner serves {spec.dashboard_host}; the delegation of {spec.subdomain} would hide it. "
        "Remove it first, or use another subdomain."
        for served in root_records
    ]
    zone = seen.zone
    if zone is not None and not zone.owned and naming.STACK_TAG in zone.tags:
        found.append(
            f"Hosted zone {zone.zone_id} ({zone.name}) belongs to {owner(zone.tags)}; "
            f"stack {spec.name!r} would share its records. Use another subdomain."
        )
    found += _record(spec, seen, set(recorded))
    return tuple(found)


def refuse(spec: StackSpec, found: Iterable[str]) -> None:
    """Raise one OwnerConflict listing every conflict found, or return when there is none."""
    lines = list(found)
    if lines:
        raise OwnerConflict(
            f"Setup stopped before creating anything: stack {spec.name!r} conflicts with what is "
            "already there; nothing was created:\n  " + "\n  ".join(lines)
        )


def _tool_mark() -> str:
    return f"{naming.MANAGED_BY_TAG}={naming.TOOL}"


def _iam(spec: StackSpec, seen: Observation) -> list[str]:
    """The controller's IAM of the cluster: any kubeflow-alb stack's is shared, not a conflict."""
    if not controller_is_ours(spec, seen):
        return []
    found = []
    if seen.policy is not None and not seen.policy.owned:
        found.append(
            f"IAM policy {seen.policy.arn} exists without the tags of a kubeflow-alb stack "
            f"({_tool_mark()}); setup would have to change it. Delete it if it is a leftover."
        )
    if seen.role is not None and not seen.role.owned:
        found.append(
            f"IAM role {seen.role.arn} exists without the tags of a kubeflow-alb stack "
            f"({_tool_mark()}); setup would have to change its trust policy. Delete it if it "
            "is a leftover."
        )
    association = seen.pod_identity
    if association is not None and not association.owned:
        found.append(
            f"Pod Identity association {association.arn} of service account "
            f"{association.namespace}/{association.service_account} exists without the tags of a "
            f"kubeflow-alb stack ({_tool_mark()}); setup would have to point it at its role. "
            "Delete it if it is a leftover, or set stack.controller to skip."
        )
    return found + _shared_controller(spec, seen)


def _shared_controller(spec: StackSpec, seen: Observation) -> list[str]:
    """The stacks of a cluster share one controller: a stack may not move it under its other
    users to an older version, or to another identity (both would break their Ingresses' ALB
    and change what their plans declare). A newer version is an upgrade for all of them."""
    controller = seen.controller
    if controller is None or not controller.owned:
        return []
    others = [user for user in controller.users if user != spec.name]
    if not others:
        return []
    users, found = ", ".join(others), []
    wanted, running = spec.stack.controller_version, controller.version
    if (
        running is not None
        and running in RELEASES
        and wanted in RELEASES
        and _older(wanted, running)
    ):
        found.append(
            f"The cluster's ALB controller runs {running} for stack(s) {users}; stack "
            f"{spec.name!r} has stack.controllerVersion {wanted}, which would downgrade it under "
            f"them. Set stack.controllerVersion {running} (the stacks of a cluster share one "
            "controller and must agree on its version)."
        )
    irsa = controller.role_annotation is not None
    if irsa == identity.uses_pod_identity(spec):
        shared_identity = "irsa" if irsa else "pod-identity"
        found.append(
            f"The cluster's ALB controller uses {shared_identity} for stack(s) {users}; stack "
            f"{spec.name!r} has stack.controllerIdentity {spec.stack.controller_identity}, which "
            f"would switch it under them. Set stack.controllerIdentity {shared_identity} (the "
            "stacks of a cluster share one controller and its identity)."
        )
    return found


def _older(version: str, than: str) -> bool:
    return _release_tuple(version) < _release_tuple(than)


def _release_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.removeprefix("v").split(".") if part.isdigit())


def _ingress(spec: StackSpec, seen: Observation) -> list[str]:
    ingress = seen.ingress
    if ingress is None or ingress.owned_by(spec.name):
        return []
    if naming.STACK_TAG in ingress.labels:
        what_to_do = (
            "set stack.ingressName to another name (each stack on a cluster needs its own "
            "Ingress), with stack.ingressGroup to share that stack's ALB."
        )
    else:
        what_to_do = (
            "setup would have to overwrite it. Delete it if it is a leftover (the ALB controller "
            "then removes its ALB), or set stack.ingressName to another name."
        )
    return [f"Ingress {ingress.key} belongs to {owner(ingress.labels)}: {what_to_do}"]


def _hosts(spec: StackSpec, hosts: Iterable[HostRule]) -> list[str]:
    found = []
    dashboard = spec.dashboard_host
    for rule in hosts:
        if rule.ingress == spec.ingress_key or rule.stack == spec.name:
            continue
        if _covers(normalise(rule.host), dashboard):
            who = f"kubeflow-alb stack {rule.stack!r}" if rule.stack else "another Ingress"
            found.append(
                f"Ingress {rule.ingress} ({who}) already routes host {rule.host}, which covers "
                f"the dashboard {dashboard}; use another subdomain, or remove that rule."
            )
    return found


def _record(spec: StackSpec, seen: Observation, recorded: set[str]) -> list[str]:
    """`*.<subdomain>` in a zone that is not ours, not recorded as ours, not at our ALB."""
    zone, record = seen.zone, seen.dashboard_record
    if zone is None or zone.owned or record is None:  # in a zone of ours every record is ours
        return []
    if f"{zone.zone_id}/{record.name}/{record.type}" in recorded:
        return []
    target = record.alias.dns_name if record.alias else ", ".join(record.values)
    ours = seen.load_balancer
    if ours is not None and ours.owned:
        names = {normalise(ours.dns_name), normalise(f"dualstack.{ours.dns_name}")}
        if normalise(target) in names:
            return []
    return [
        f"Record {record.name} {record.type} in hosted zone {zone.zone_id} ({zone.name}, not "
        f"created by stack {spec.name}) already exists and points at {target}, not at a load "
        "balancer of this stack; setup would overwrite it. Remove it if it is a leftover, or use "
        "another subdomain."
    ]


def _covers(host: str, name: str) -> bool:
    """True when an Ingress host (exact or `*.` wildcard of one label) matches `name`."""
    if host.startswith("*."):
        return name.count(".") >= 1 and name.split(".", 1)[1] == host[2:]
    return host == name
