"""Why an ALB's front door (the Ingress) stays terminating, from what cleanup can see (pure).

The AWS Load Balancer Controller removes its finalizer only once the ALB, its target groups and
its security group are gone. When it cannot, users tend to remove the finalizer blind and leak
the ALB. Cleanup instead names the cause and the next step. What it reads:

- the controller's Warning events since the deletion began, on the Ingress and on the other
  members of its IngressGroup (v3.5.0 records a group's events on its active members only: a
  lone Ingress being deleted gets none, so the AWS side must speak for it);
- the Ingress itself: its load-balancer-attributes annotation, its status conditions;
- AWS: the stack's security groups and what holds them, the controller's AWS identity.

A cause is `sweepable` when kubeflow-alb can finish the job itself, with its own rights, by the
stack's tags (the controller's identity is broken); then, and only once that sweep finds nothing
of the stack left, it removes the finalizer. Otherwise the finalizer stays and the message says
what to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from core.alb_options import describe_cleanup
from core.errors import PermanentError


class EndOfLifeBlocked(PermanentError):
    """The front door cannot be deleted until something outside cleanup changes; the message
    names the cause and the next step, and the controller's finalizer is left in place."""


@dataclass(frozen=True)
class ControllerEvent:
    """A Warning event of the controller about an Ingress (`on`: namespace/name)."""

    on: str
    reason: str
    message: str
    #: What changes when the controller says it again (the Event's uid, count and last time).
    stamp: str = ""


@dataclass(frozen=True)
class HeldGroup:
    """A security group of the stack and the network interfaces that still hold it."""

    group_id: str
    holders: tuple[str, ...] = ()  # "eni-... (description)" of interfaces not of a load balancer


@dataclass(frozen=True)
class EndOfLife:
    """What cleanup saw of a terminating Ingress (the evidence)."""

    ingress: str  # namespace/name
    group: str | None = None
    protected: bool = False  # its annotation keeps deletion protection on
    #: Other Ingresses of its group being deleted whose annotation keeps protection on: the
    #: controller then builds none of the group (events go to active members only, if any).
    protected_members: tuple[str, ...] = ()
    members: tuple[str, ...] = ()  # the group's other Ingresses there now (being deleted too)
    events: tuple[ControllerEvent, ...] = ()
    conditions: tuple[str, ...] = ()  # its status conditions that are not fine, as text
    held_groups: tuple[HeldGroup, ...] = ()
    identity_problem: str | None = None  # why the controller's AWS identity cannot work


@dataclass(frozen=True)
class Cause:
    """A named cause, what shows it, what to do, and whether kubeflow-alb's sweep can finish."""

    name: str
    evidence: str
    next_step: str
    sweepable: bool = False


_PROTECTION = ("deletion_protection is enabled", "deletion protection is enabled")
_DENIED = (
    "AccessDenied",
    "UnauthorizedOperation",
    "is not authorized to perform",
    "failed to refresh cached credentials",
    "failed to retrieve credentials",
    "InvalidIdentityToken",
    "WebIdentityErr",
    "NoCredentialProviders",
    "failed to load credentials",
)
_MEMBER = re.compile(r"ingress: ([^\s:]+/[^\s:]+):")
_SG = re.compile(r"resource (sg-[0-9a-f]+) has a dependent object")
_PROTECTED_NAME = re.compile(r"cannot delete the ingress: ([^\s,]+)")


def _outdated(seen: EndOfLife, event: ControllerEvent) -> bool:
    """The event names a member the objects contradict now: an Ingress whose annotation no
    longer keeps protection on (cleanup lifted it, or the user), or a member that is gone. The
    controller said it before it saw the change; AWS's own words name no Ingress and count."""
    named = _PROTECTED_NAME.search(event.message)
    if named is not None:
        still = {key.split("/", 1)[1] for key in seen.protected_members}
        if seen.protected:
            still.add(seen.ingress.split("/", 1)[1])
        return named.group(1) not in still
    member = _MEMBER.search(event.message)
    return member is not None and member.group(1) not in (*seen.members, seen.ingress)


def _protected(seen: EndOfLife) -> Cause | None:
    said = [
        e
        for e in seen.events
        if any(text in e.message for text in _PROTECTION) and not _outdated(seen, e)
    ]
    if not (seen.protected or said or seen.protected_members):
        return None
    namespace, name = seen.ingress.split("/", 1)
    named = _PROTECTED_NAME.search(said[-1].message) if said else None
    if seen.protected_members and not seen.protected:  # another member, being deleted
        namespace, name = seen.protected_members[0].split("/", 1)
    elif named and not seen.protected:
        name = named.group(1)
    evidence = (
        said[-1].message
        if said
        else (
            f"Ingress {namespace}/{name}, being deleted, keeps deletion protection on in its "
            "alb.ingress.kubernetes.io/load-balancer-attributes annotation"
        )
    )
    return Cause(
        name="a protected ALB (deletion protection)",
        evidence=evidence,
        next_step=(
            f"set {describe_cleanup()} in the load-balancer-attributes annotation of Ingress "
            f"{namespace}/{name}, keeping its other attributes (kubectl -n {namespace} edit "
            f"ingress {name}): the controller then turns the ALB's protection off and deletes "
            "it. Then run cleanup again."
        ),
    )


def _dependency(seen: EndOfLife) -> Cause | None:
    held = [group for group in seen.held_groups if group.holders]
    if not held:
        return None
    group = held[0]
    said = [e.message for e in seen.events if "DependencyViolation" in e.message]
    evidence = f"security group {group.group_id} is still used by {', '.join(group.holders)}"
    if said:
        evidence += f"; the controller reports: {said[-1]}"
    return Cause(
        name=f"DependencyViolation on security group {group.group_id}",
        evidence=evidence,
        next_step=(
            f"those network interfaces are not the load balancer's: detach or delete them, or "
            f"move them to another security group (aws ec2 modify-network-interface-attribute "
            f"--network-interface-id ENI --groups SG); see aws ec2 describe-network-interfaces "
            f"--filters Name=group-id,Values={group.group_id}. The controller then deletes the "
            "group; run cleanup again."
        ),
    )


def _group_member(seen: EndOfLife) -> Cause | None:
    failed = [
        e
        for e in seen.events
        if e.reason == "FailedBuildModel"
        and e.on != seen.ingress
        and not any(text in e.message for text in _PROTECTION)
        and not _outdated(seen, e)
    ]
    if not failed:
        return None
    named = [m.group(1) for e in failed if (m := _MEMBER.search(e.message))]
    members = sorted(set(named or [e.on for e in failed]) - {seen.ingress})
    culprit = ", ".join(members) or failed[-1].on
    return Cause(
        name=f"FailedBuildModel of IngressGroup {seen.group or '?'} member {culprit}",
        evidence=failed[-1].message,
        next_step=(
            f"fix or remove Ingress {culprit}: the controller changes the group's ALB (and "
            f"removes {seen.ingress}'s part of it) only when every member builds. Then run "
            "cleanup again."
        ),
    )


def _identity(seen: EndOfLife) -> Cause | None:
    said = [e.message for e in seen.events if any(text in e.message for text in _DENIED)]
    if seen.identity_problem is None and not said:
        return None
    credentials = any("credentials" in m or "Identity" in m for m in said)
    kind = "credential errors" if credentials and seen.identity_problem is None else "AccessDenied"
    evidence = "; ".join(filter(None, [seen.identity_problem, said[-1] if said else None]))
    return Cause(
        name=f"{kind}: the controller's AWS identity is broken",
        evidence=evidence,
        next_step=(
            "repair the controller's IAM role (its trust policy, its policy) or its service "
            "account's identity; meanwhile kubeflow-alb deletes the stack's ALB, target groups "
            "and security groups by their tags with its own rights"
        ),
        sweepable=True,
    )


def said_since(seen: EndOfLife, before: EndOfLife | None) -> EndOfLife:
    """`seen` with only the events the controller said (again) after `before` was seen.

    A cleanup run that finds the Ingress already terminating must not stop on an Event of an
    earlier run: the cause may have been fixed since (the annotation edited, the broken member
    removed) and the controller not have reconciled yet. What the objects and AWS show now
    (annotations, held groups, the identity) counts at once; an old Event only once repeated."""
    if before is None:
        return seen
    old = set(before.events)
    return replace(seen, events=tuple(event for event in seen.events if event not in old))


def diagnose(seen: EndOfLife) -> Cause | None:
    """The cause that keeps the Ingress terminating, most specific first; None when nothing
    shows one (the controller may just be slow: lingering network interfaces, a busy API)."""
    for find in (_protected, _dependency, _group_member, _identity):
        cause = find(seen)
        if cause is not None:
            return cause
    return None


def described(seen: EndOfLife) -> str:
    """What was seen, in words (for progress lines and a timeout with no cause found)."""
    parts = [f"{e.on}: {e.reason}: {e.message}" for e in seen.events[-3:]]
    parts += list(seen.conditions)
    sgs = [f"{g.group_id} held by {', '.join(g.holders)}" for g in seen.held_groups if g.holders]
    if sgs:
        parts.append("security groups " + "; ".join(sgs))
    if seen.identity_problem:
        parts.append(seen.identity_problem)
    return " | ".join(parts) or "no Warning event of the controller, no cause seen in AWS"


def blocked(seen: EndOfLife, cause: Cause) -> str:
    """The message of a cleanup that stops on this cause."""
    sg = _SG.search(cause.evidence)
    extra = f" (the controller retries deleting {sg.group(1)})" if sg else ""
    return (
        f"Ingress {seen.ingress} stays terminating: {cause.name}{extra}. Seen: {cause.evidence}. "
        f"Next: {cause.next_step} The controller's finalizer is left in place: kubeflow-alb "
        "removes it only after a sweep by the stack's tags finds none of its load balancers, "
        "target groups or security groups left."
    )
