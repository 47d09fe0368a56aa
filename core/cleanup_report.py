"""Cleanup's leak report, pure: what of a stack is left, what was left on purpose, and why."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from core import sharing
from core.cleanup import (
    CleanupIncomplete,
    dashboard_records_to_delete,
    delegated_zone,
    own_bindings,
    own_ingress,
    unneeded_validation_records,
    validation_users,
)
from core.dangling import leftover_records
from core.kinds import cleanup_order
from core.observation import Observation, Sweep
from core.report import leftovers_summary
from core.state import Kind, StackRecord


def leftovers(stack: str, seen: Observation, record: StackRecord | None) -> dict[str, list[str]]:
    """Everything of the stack still present, per kind (the goal: every list empty). Before a
    cleanup, the same is what it will remove (the destroy preview)."""
    left: dict[str, list[str]] = {kind.value: [] for kind in cleanup_order()}
    sweep = seen.sweep or Sweep()
    zone = seen.zone
    if zone is not None and zone.owned:
        left[Kind.HOSTED_ZONE].append(f"{zone.zone_id} ({zone.name})")
    if seen.delegation is not None and delegated_zone(seen, record) is not None:
        root = seen.root_zone.zone_id if seen.root_zone else "?"
        left[Kind.DELEGATION].append(f"{seen.delegation.name} NS in zone {root}")
    left[Kind.DNS_RECORD] += [
        f"{r.name} {r.type}" for r in dashboard_records_to_delete(seen, record, stack)
    ]
    left[Kind.CERTIFICATE] += [f"{c.arn} ({c.domain})" for c in sweep.certificates if c.owned]
    left[Kind.VALIDATION_RECORD] += [
        f"{r.name} CNAME in zone {r.zone_id}"
        for r in unneeded_validation_records(sweep.validation_records, sweep.certificates)
    ]
    left[Kind.SUBNET_TAG] += [f"{t.subnet_id} {t.key}={t.value}" for t in sweep.subnet_tags]
    left[Kind.OIDC_PROVIDER] += [p.arn for p in sweep.oidc_providers if p.owned]
    left[Kind.IAM_POLICY] += [p.arn for p in (held(seen.policy, stack, record), sweep.legacy_policy)
                              if p is not None and p.owned]  # fmt: skip
    left[Kind.IAM_ROLE] += [r.arn for r in (held(seen.role, stack, record), sweep.legacy_role)
                            if r is not None and r.owned]  # fmt: skip
    association = held(seen.pod_identity, stack, record)
    left[Kind.POD_IDENTITY] += [association.arn] if association is not None else []
    left[Kind.CONTROLLER] += list(sweep.controller_objects)
    ingress = own_ingress(seen, stack)
    if ingress is not None:
        left[Kind.INGRESS].append(ingress.key)
    left[Kind.INGRESS] += list(own_bindings(seen, stack))
    door = seen.gateway
    if door is not None:
        objects = (door.gateway, *door.routes, door.load_balancer_configuration,
                   door.target_group_configuration)  # fmt: skip
        left[Kind.GATEWAY] += [o.key for o in objects if o is not None and o.owned_by(stack)]
    balancers = sweep.load_balancers
    left[Kind.LOAD_BALANCER] += [*balancers.load_balancer_arns, *balancers.target_group_arns,
                                 *balancers.security_group_ids]  # fmt: skip
    if sweep.backend_security_group and _installed_controller(record):
        left[Kind.LOAD_BALANCER].append(sweep.backend_security_group)
    return left


class _Shared(Protocol):
    @property
    def owned(self) -> bool: ...

    @property
    def tags(self) -> dict[str, str]: ...


S = TypeVar("S", bound=_Shared)


def held(found: S | None, stack: str, record: StackRecord | None = None) -> S | None:
    """A shared item of the cluster, while this stack uses it (else it is not the stack's).

    One with no user left that the stack's record lists is the stack's too: its release took
    its mark off and was killed before the delete; the resumed cleanup finishes it."""
    if found is None or not found.owned or sharing.uses(found.tags, stack):
        return found
    if record is not None and not sharing.item_users(found.tags) and _recorded(record, found):
        return found
    return None


def _recorded(record: StackRecord, found: _Shared) -> bool:
    arn = getattr(found, "arn", None)
    return arn is not None and any(item.id == arn for item in record.resources)


def _installed_controller(record: StackRecord | None) -> bool:
    return any(item.owned for item in (record.of_kind(Kind.CONTROLLER) if record else ()))


class Kept(BaseModel):
    """A resource cleanup leaves on purpose, and why."""

    model_config = ConfigDict(frozen=True)

    kind: str
    resource: str
    reason: str


def kept(stack: str, seen: Observation, record: StackRecord | None) -> tuple[Kept, ...]:
    """What the stack used without owning it (pre-existing, adopted) or still shares."""
    sweep = seen.sweep or Sweep()
    items = [Kept(kind=item.kind.value, resource=item.id,
                  reason="pre-existing; adopted by setup, not created by it")
             for item in (record.resources if record else ()) if not item.owned]  # fmt: skip
    if seen.zone is not None and not seen.zone.owned:
        items.append(Kept(kind=Kind.HOSTED_ZONE.value, resource=seen.zone.zone_id,
                          reason=f"pre-existing zone of {seen.zone.name}"))  # fmt: skip
    if seen.delegation is not None and delegated_zone(seen, record) is None:
        items.append(Kept(kind=Kind.DELEGATION.value, resource=seen.delegation.name,
                          reason="NS record not pointing at a zone of this stack"))  # fmt: skip
    items += _kept_controller(stack, seen)
    named = [
        (Kind.IAM_ROLE, seen.role),
        (Kind.IAM_POLICY, seen.policy),
        (Kind.IAM_ROLE, sweep.legacy_role),
        (Kind.IAM_POLICY, sweep.legacy_policy),
    ]
    items += [Kept(kind=kind.value, resource=found.arn,
                   reason="has the controller's name but no kubeflow-alb stack made it")
              for kind, found in named if found is not None and not found.owned]  # fmt: skip
    if seen.ingress is not None and own_ingress(seen, stack) is None:
        items.append(Kept(kind=Kind.INGRESS.value, resource=seen.ingress.key,
                          reason="does not carry the stack's labels"))  # fmt: skip
    if sweep.backend_security_group and not _installed_controller(record):
        items.append(Kept(kind=Kind.LOAD_BALANCER.value, resource=sweep.backend_security_group,
                          reason="the ALB controller's shared backend security group, unused; "
                                 "not made by a controller of this stack (delete it if that "
                                 "controller is gone for good)"))  # fmt: skip
    users = validation_users(sweep.validation_records, sweep.certificates)
    items += [Kept(kind=Kind.VALIDATION_RECORD.value, resource=name,
                   reason="still validates " + ", ".join(arns))
              for name, arns in users.items() if arns]  # fmt: skip
    unique: dict[tuple[str, str], Kept] = {}
    for item in items:
        unique.setdefault((item.kind, item.resource), item)
    return tuple(unique.values())


def _kept_controller(stack: str, seen: Observation) -> list[Kept]:
    controller, objects = seen.controller, seen.sweep.controller_objects if seen.sweep else ()
    if controller is None or not controller.usable or objects:
        return []
    others = [user for user in controller.users if user != stack]
    reason = (
        f"shared; still used by {', '.join(others)}"
        if controller.owned and others
        else f"not installed by this stack (IngressClass {controller.ingress_class})"
    )
    return [Kept(kind=Kind.CONTROLLER.value, resource=controller.provider, reason=reason)]


def incomplete(
    stack: str, left: dict[str, list[str]], failures: str = "", by_hand: str = ""
) -> CleanupIncomplete:
    """The error ending a cleanup that left resources of the stack behind (or could not finish
    a step: `failures` says which and why; `by_hand`: the root zone's change to make)."""
    named = "; ".join(f"{kind}: {', '.join(items)}" for kind, items in left.items() if items)
    why = f" Steps that did not finish: {failures}." if failures else ""
    hand = f"\n{by_hand}" if by_hand else ""
    return CleanupIncomplete(
        f"Cleanup of stack {stack} left resources behind: {named or 'none found'}.{why} See the "
        "run's leftovers artifact and logs for why, fix that, and run cleanup again (it resumes)."
        f"{hand}"
    )


def root_zone_leftovers(seen: Observation, record: StackRecord | None) -> str:
    """The stack's records still in the root zone (its NS delegation, the `*.<root>`
    certificate's validation CNAMEs), as the exact change that removes them by hand; "" when
    none are left. The root zone is often another account's: when its role is gone, this is the
    only way they go."""
    root = seen.root_zone
    if root is None:
        return ""
    found = [seen.delegation] if seen.delegation and delegated_zone(seen, record) else []
    sweep = seen.sweep or Sweep()
    found += [r.as_record() for r in sweep.validation_records if r.zone_id == root.zone_id]
    if not found:
        return ""
    report = leftover_records(zone_name=root.name, zone_id=root.zone_id, records=found)
    reason = f"The root zone's role was refused: {seen.root_refused}\n" if seen.root_refused else ""
    return reason + report.text


def leftover_rows(
    left: dict[str, list[str]], keep: Iterable[Kept], reasons: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """The final sweep as a table: what is left of the stack (and why, when a step failed),
    then what was left on purpose."""
    reasons = reasons or {}
    rows = [{"kind": kind, "resource": item, "status": "left behind",
             "why": reasons.get(kind, "owned by the stack")}
            for kind, items in left.items() for item in items]  # fmt: skip
    rows += [{"kind": k.kind, "resource": k.resource, "status": "kept", "why": k.reason}
             for k in keep]  # fmt: skip
    return rows or [{"kind": "-", "resource": "nothing left", "status": "clean", "why": "-"}]


def cleanup_summary(
    stack: str,
    left: Mapping[str, list[str]],
    keep: Iterable[Kept],
    notes: Iterable[str] = (),
    reasons: Mapping[str, str] | None = None,
) -> str:
    """The leak report in markdown: leftovers first and why they are left, then what was kept
    on purpose, then notes."""
    lines = [leftovers_summary(stack, left).rstrip()]
    why = [(kind, reason) for kind, reason in (reasons or {}).items() if left.get(kind)]
    if why:
        lines += ["", "## Why it is left", ""]
        lines += [f"- **{kind}**: {reason}" for kind, reason in why]
    keep = list(keep)
    if keep:
        lines += ["", "## Left on purpose (not this stack's)", ""]
        lines += [f"- **{item.kind}** {item.resource}: {item.reason}" for item in keep]
    notes = list(notes)
    if notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n"


def destroy_rows(stack: str, seen: Observation, record: StackRecord | None) -> list[dict[str, str]]:
    """What a cleanup of the stack would do, from the look it would start from (the destroy
    preview): each resource it deletes, each shared item it only lets go of (others still use
    it), then what it leaves and why."""
    others = _other_users(stack, seen)
    rows = []
    for kind, items in leftovers(stack, seen, record).items():
        for item in items:
            users = others.get(item, others.get(item.split(" ", 1)[0], ()))
            if users:
                rows.append({"action": "release", "kind": kind, "resource": item,
                             "why": f"shared: stays for {', '.join(users)}"})  # fmt: skip
            else:
                rows.append({"action": "delete", "kind": kind, "resource": item,
                             "why": "the stack's"})  # fmt: skip
    rows += [{"action": "leave", "kind": k.kind, "resource": k.resource, "why": k.reason}
             for k in kept(stack, seen, record)]  # fmt: skip
    return rows


def _other_users(stack: str, seen: Observation) -> dict[str, tuple[str, ...]]:
    """Shared items' ids (ARNs, controller objects) -> the other stacks that use them."""
    found: dict[str, tuple[str, ...]] = {}
    sweep = seen.sweep or Sweep()
    for item in (seen.policy, seen.role, seen.pod_identity, *sweep.oidc_providers):
        if item is not None and item.owned:
            users = tuple(u for u in sharing.item_users(item.tags) if u != stack)
            found[item.arn] = users
    controller = seen.controller
    if controller is not None and controller.owned:
        users = tuple(u for u in controller.users if u != stack)
        found.update(dict.fromkeys(sweep.controller_objects, users))
    return found
