"""What setup would have to refuse, found in the observation before it creates anything (pure).

Setup never changes a same-named IAM policy or role, an Ingress or a `*.<subdomain>` record that
is not this stack's. Found only when setup reaches them, they would stop it after the zone,
certificates and records were made; found in the observation, nothing is made at all.
"""

from __future__ import annotations

from collections.abc import Iterable

from core import naming
from core.dnsnames import normalise
from core.errors import OwnershipError
from core.observation import Observation, controller_is_ours
from core.spec import StackSpec


def _mark(stack: str) -> str:
    return f"{naming.STACK_TAG}={stack}, {naming.MANAGED_BY_TAG}={naming.TOOL}"


def _tool_mark() -> str:
    return f"{naming.MANAGED_BY_TAG}={naming.TOOL}"


def conflicts(spec: StackSpec, seen: Observation, *, recorded: Iterable[str] = ()) -> list[str]:
    """One line per resource setup would change that exists without this stack's mark.

    Args:
        spec: the stack.
        seen: the stack's observation (its IAM is read only when setup installs the controller).
        recorded: ids of DNS records in the stack's block (`<zone id>/<name>/<type>`): ours.
    """
    stack, found = spec.name, []
    if controller_is_ours(spec, seen):
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
    # An Ingress of another kubeflow-alb stack is core.conflicts' to name (with that stack).
    if (
        seen.ingress is not None
        and not seen.ingress.owned_by(stack)
        and naming.STACK_TAG not in seen.ingress.labels
    ):
        found.append(
            f"Ingress {seen.ingress.key} exists without stack {stack}'s labels ({_mark(stack)}); "
            "setup would have to overwrite it. Delete it if it is a leftover (the ALB controller "
            "then removes its ALB), or keep it and do not run setup on this cluster."
        )
    found += _record_conflicts(spec, seen, set(recorded))
    return found


def _record_conflicts(spec: StackSpec, seen: Observation, recorded: set[str]) -> list[str]:
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
        f"created by stack {spec.name}) points at {target}, not at a load balancer of this "
        "stack; setup would overwrite it. Remove it if it is a leftover, or use another subdomain."
    ]


def refuse_conflicts(found: Iterable[str]) -> None:
    """Raise one OwnershipError listing every conflict found, or return when there is none."""
    lines = list(found)
    if lines:
        raise OwnershipError(
            "Setup stopped before creating anything: "
            + ("\n  " if len(lines) > 1 else "")
            + "\n  ".join(lines)
        )
