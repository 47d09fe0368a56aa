"""Cleanup's leak report, pure: what of a stack is left, what was left on purpose, and why."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict

from core.cleanup import (
    CleanupIncomplete,
    Survey,
    dashboard_records_to_delete,
    delegated_zone,
    unneeded_validation_records,
    validation_users,
)
from core.model import cleanup_order
from core.report import leftovers_summary
from core.state import Kind, StackRecord


def leftovers(survey: Survey, record: StackRecord | None) -> dict[str, list[str]]:
    """Everything of the stack still present, per kind (the goal: every list empty)."""
    left: dict[str, list[str]] = {kind.value: [] for kind in cleanup_order()}
    zone = survey.zone
    if zone is not None and zone.owned:
        left[Kind.HOSTED_ZONE].append(f"{zone.zone_id} ({zone.name})")
    if survey.delegation is not None and delegated_zone(survey, record) is not None:
        left[Kind.DELEGATION].append(f"{survey.delegation.name} NS in zone {survey.root_zone_id}")
    left[Kind.DNS_RECORD] += [
        f"{r.name} {r.type}" for r in dashboard_records_to_delete(survey, record)
    ]
    left[Kind.CERTIFICATE] += [f"{c.arn} ({c.domain})" for c in survey.certificates if c.owned]
    left[Kind.VALIDATION_RECORD] += [
        f"{r.name} CNAME in zone {r.zone_id}"
        for r in unneeded_validation_records(survey.validation_records, survey.certificates)
    ]
    left[Kind.SUBNET_TAG] += [f"{t.subnet_id} {t.key}={t.value}" for t in survey.subnet_tags]
    left[Kind.OIDC_PROVIDER] += [p.arn for p in survey.oidc_providers if p.owned]
    policies, roles = (survey.policy, survey.legacy_policy), (survey.role, survey.legacy_role)
    left[Kind.IAM_POLICY] += [p.arn for p in policies if p is not None and p.owned]
    left[Kind.IAM_ROLE] += [r.arn for r in roles if r is not None and r.owned]
    left[Kind.POD_IDENTITY] += [a.arn for a in (survey.pod_identity,) if a is not None and a.owned]
    left[Kind.CONTROLLER] += list(survey.controller_objects)
    if survey.own_ingress is not None:
        left[Kind.INGRESS].append(survey.own_ingress.key)
    left[Kind.INGRESS] += list(survey.own_bindings)
    balancers = survey.load_balancers
    left[Kind.LOAD_BALANCER] += [*balancers.load_balancer_arns, *balancers.target_group_arns,
                                 *balancers.security_group_ids]  # fmt: skip
    if survey.backend_security_group and _installed_controller(record):
        left[Kind.LOAD_BALANCER].append(survey.backend_security_group)
    return left


def _installed_controller(record: StackRecord | None) -> bool:
    return any(item.owned for item in (record.of_kind(Kind.CONTROLLER) if record else ()))


class Kept(BaseModel):
    """A resource cleanup leaves on purpose, and why."""

    model_config = ConfigDict(frozen=True)

    kind: str
    resource: str
    reason: str


def kept(survey: Survey, record: StackRecord | None) -> tuple[Kept, ...]:
    """What the stack used without owning it (pre-existing, adopted) or still shares."""
    items = [Kept(kind=item.kind.value, resource=item.id,
                  reason="pre-existing; adopted by setup, not created by it")
             for item in (record.resources if record else ()) if not item.owned]  # fmt: skip
    if survey.zone is not None and not survey.zone.owned:
        items.append(Kept(kind=Kind.HOSTED_ZONE.value, resource=survey.zone.zone_id,
                          reason=f"pre-existing zone of {survey.zone.name}"))  # fmt: skip
    if survey.delegation is not None and delegated_zone(survey, record) is None:
        items.append(Kept(kind=Kind.DELEGATION.value, resource=survey.delegation.name,
                          reason="NS record not pointing at a zone of this stack"))  # fmt: skip
    controller = survey.controller
    if controller is not None and controller.usable and not survey.controller_objects:
        others = [user for user in controller.users if user != survey.stack]
        reason = (
            f"shared; still used by {', '.join(others)}"
            if controller.owned and others
            else f"not installed by this stack (IngressClass {controller.ingress_class})"
        )
        items.append(Kept(kind=Kind.CONTROLLER.value, resource=controller.provider,
                          reason=reason))  # fmt: skip
    named = [
        (Kind.IAM_ROLE, survey.role),
        (Kind.IAM_POLICY, survey.policy),
        (Kind.IAM_ROLE, survey.legacy_role),
        (Kind.IAM_POLICY, survey.legacy_policy),
    ]
    items += [Kept(kind=kind.value, resource=found.arn,
                   reason="has the controller's name but no kubeflow-alb stack made it")
              for kind, found in named if found is not None and not found.owned]  # fmt: skip
    if survey.ingress is not None and survey.own_ingress is None:
        items.append(Kept(kind=Kind.INGRESS.value, resource=survey.ingress.key,
                          reason="does not carry the stack's labels"))  # fmt: skip
    if survey.backend_security_group and not _installed_controller(record):
        items.append(Kept(kind=Kind.LOAD_BALANCER.value, resource=survey.backend_security_group,
                          reason="the ALB controller's shared backend security group, unused; "
                                 "not made by a controller of this stack (delete it if that "
                                 "controller is gone for good)"))  # fmt: skip
    users = validation_users(survey.validation_records, survey.certificates)
    items += [Kept(kind=Kind.VALIDATION_RECORD.value, resource=name,
                   reason="still validates " + ", ".join(arns))
              for name, arns in users.items() if arns]  # fmt: skip
    unique: dict[tuple[str, str], Kept] = {}
    for item in items:
        unique.setdefault((item.kind, item.resource), item)
    return tuple(unique.values())


def incomplete(stack: str, left: dict[str, list[str]], failures: str = "") -> CleanupIncomplete:
    """The error ending a cleanup that left resources of the stack behind (or could not finish
    a step: `failures` says which and why)."""
    named = "; ".join(f"{kind}: {', '.join(items)}" for kind, items in left.items() if items)
    why = f" Steps that did not finish: {failures}." if failures else ""
    return CleanupIncomplete(
        f"Cleanup of stack {stack} left resources behind: {named or 'none found'}.{why} See the "
        "run's leftovers artifact and logs for why, fix that, and run cleanup again (it resumes)."
    )


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
