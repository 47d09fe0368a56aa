"""The table of kinds (pure): one entry per kind of a stack — what it needs, who owns it, what it
declares and how it is observed. Plan, apply, drift and cleanup all walk this one graph.

A kind's entry says:
- `needs`: the kinds that must be made before it (apply); it is removed before them (cleanup);
- `settled`: the kinds that must also be settled (certificate ISSUED, ALB active, names
  resolving) before it is made — a kind with a readiness wait is settled once it is over,
  one without once it is made;
- `ready_after`: the kinds its own readiness wait needs settled besides itself;
- `removed_after`: cleanup-only edges, which win over the reversed `needs`;
- `policy`: owned (the stack's own), shared (the cluster's, held by users' marks), controller
  (built by the ALB controller from the front door), checked (verified, never made);
- `rebuilds`: dependents whose desired value changes when this kind is made anew (a new zone has
  other name servers, a new certificate another ARN: Terraform's "known after apply");
- `items`: its desired items, `found`: the same items' observed fields — pure functions of the
  spec and the observation (core/items_*.py).

Where the verbs live: `tasks/kinds/<module>.py` gives each kind's observe / ensure / delete
(and its readiness wait); flows/walk.py runs them over this graph. A new kind is a Kind member,
an entry here, its items in core/items_*.py and its task module: nothing in flows/ changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from core import items_dns, items_front, items_gateway, items_iam
from core.observation import Observation
from core.plan import Item, Plan, plan
from core.spec import StackSpec
from core.state import Kind

Found = dict[tuple[Kind, str], dict[str, str] | None]


class Policy(StrEnum):
    """Who owns the resources of a kind, hence what cleanup does with them."""

    #: Made by the stack (its ownership mark); cleanup deletes it; one found unmarked is adopted
    #: (used, reported, left).
    OWNED = "owned"
    #: The cluster's, held by reference: each user stack's mark; the last user deletes it.
    SHARED = "shared"
    #: Built by the ALB controller from the front door: changed through it, gone with it.
    CONTROLLER = "controller"
    #: A fact that is verified, never made; nothing to remove.
    CHECKED = "checked"


@dataclass(frozen=True)
class Entry:
    """One kind of the stack: its place in the graph, its owner and its declared fields."""

    kind: Kind
    policy: Policy
    items: Callable[[StackSpec, Observation], Iterable[Item]]
    found: Callable[[StackSpec, Observation], Found]
    needs: tuple[Kind, ...] = ()
    settled: tuple[Kind, ...] = ()
    ready_after: tuple[Kind, ...] = ()
    removed_after: tuple[Kind, ...] = ()
    rebuilds: tuple[Kind, ...] = ()


TABLE: Mapping[Kind, Entry] = {
    entry.kind: entry
    for entry in (
        Entry(Kind.HOSTED_ZONE, Policy.OWNED, items_dns.zone_items, items_dns.zone_found,
              rebuilds=(Kind.DELEGATION, Kind.VALIDATION_RECORD, Kind.DNS_RECORD)),
        # Its readiness: the delegation visible in public DNS (added by hand when the root zone
        # is not in Route53: then the item is not declared, but the wait still runs on demand).
        Entry(Kind.DELEGATION, Policy.OWNED, items_dns.delegation_items,
              items_dns.delegation_found, needs=(Kind.HOSTED_ZONE,)),
        # The requests go out first, beside the zone (ACM validation is the longest wait; a
        # request needs no zone); ISSUED is its readiness.
        Entry(Kind.CERTIFICATE, Policy.OWNED, items_dns.certificate_items,
              items_dns.certificate_found,
              ready_after=(Kind.VALIDATION_RECORD, Kind.DELEGATION),
              rebuilds=(Kind.INGRESS, Kind.GATEWAY)),
        # Removed once no certificate validates through it: after the certificates.
        Entry(Kind.VALIDATION_RECORD, Policy.OWNED, items_dns.validation_items,
              items_dns.validation_found, needs=(Kind.CERTIFICATE, Kind.HOSTED_ZONE),
              removed_after=(Kind.CERTIFICATE,)),
        Entry(Kind.SUBNET_TAG, Policy.SHARED, items_iam.subnet_tag_items,
              items_iam.subnet_tag_found),
        # A new provider or policy is trusted or attached again by the role.
        Entry(Kind.OIDC_PROVIDER, Policy.SHARED, items_iam.oidc_items, items_iam.oidc_found,
              rebuilds=(Kind.IAM_ROLE,)),
        Entry(Kind.IAM_POLICY, Policy.SHARED, items_iam.policy_items, items_iam.policy_found,
              rebuilds=(Kind.IAM_ROLE,)),
        Entry(Kind.IAM_ROLE, Policy.SHARED, items_iam.role_items, items_iam.role_found,
              needs=(Kind.OIDC_PROVIDER, Kind.IAM_POLICY), rebuilds=(Kind.POD_IDENTITY,)),
        Entry(Kind.POD_IDENTITY, Policy.SHARED, items_iam.association_items,
              items_iam.association_found, needs=(Kind.IAM_ROLE,)),
        # A Gateway front door's CRDs, installed before the controller (it looks for them when
        # it starts); removed after it, once no Gateway API object is left on the cluster.
        Entry(Kind.GATEWAY_API, Policy.SHARED, items_gateway.gateway_api_items,
              items_gateway.gateway_api_found),
        Entry(Kind.CONTROLLER, Policy.SHARED, items_front.controller_items,
              items_front.controller_found,
              needs=(Kind.IAM_ROLE, Kind.POD_IDENTITY, Kind.SUBNET_TAG, Kind.GATEWAY_API)),
        # Its readiness: the controller wrote the ALB's address into its status.
        # The dashboard record goes before the ALB it points at.
        Entry(Kind.INGRESS, Policy.OWNED, items_front.ingress_items, items_front.ingress_found,
              needs=(Kind.CONTROLLER,), settled=(Kind.CERTIFICATE,),
              removed_after=(Kind.DNS_RECORD,)),
        # The other front door (stack.frontDoor: gateway): its readiness is the Gateway
        # Accepted and Programmed with the ALB's address. One front door has items at a time.
        Entry(Kind.GATEWAY, Policy.OWNED, items_gateway.gateway_items, items_gateway.gateway_found,
              needs=(Kind.CONTROLLER, Kind.GATEWAY_API), settled=(Kind.CERTIFICATE,),
              removed_after=(Kind.DNS_RECORD,)),
        # Made by the controller: "ensured" by finding it (or asking for a reconcile); settled
        # when active and as declared. It goes with the Ingress (its leftovers swept after).
        Entry(Kind.LOAD_BALANCER, Policy.CONTROLLER, items_front.balancer_items,
              items_front.balancer_found, settled=(Kind.INGRESS, Kind.GATEWAY),
              removed_after=(Kind.INGRESS, Kind.GATEWAY), rebuilds=(Kind.DNS_RECORD,)),
        # A record that points elsewhere moves to the ALB only once the dashboard answers
        # through the ALB's own address: whichever run moves it (a switch resumed after a
        # crash too). A new record waits for nothing: nothing is served through it yet.
        Entry(Kind.ALB_ANSWER, Policy.CHECKED, items_dns.no_items, items_dns.nothing_found,
              needs=(Kind.LOAD_BALANCER,)),
        Entry(Kind.DNS_RECORD, Policy.OWNED, items_dns.record_items, items_dns.record_found,
              needs=(Kind.LOAD_BALANCER, Kind.HOSTED_ZONE), settled=(Kind.ALB_ANSWER,)),
        Entry(Kind.DNS_ANSWER, Policy.CHECKED, items_dns.answer_items, items_dns.answer_found,
              ready_after=(Kind.DNS_RECORD, Kind.LOAD_BALANCER)),
        Entry(Kind.HTTPS_ANSWER, Policy.CHECKED, items_dns.https_items, items_dns.https_found,
              ready_after=(Kind.DNS_ANSWER,)),
        # A switch of front door: the old one goes once the name resolves to the new ALB and
        # the dashboard answers through it (its cleanup is its own kind's, Ingress or Gateway).
        Entry(Kind.FORMER_FRONT_DOOR, Policy.OWNED, items_gateway.former_items,
              items_gateway.former_found, settled=(Kind.DNS_ANSWER, Kind.HTTPS_ANSWER)),
    )
}  # fmt: skip


def before(kind: Kind) -> tuple[Kind, ...]:
    """The kinds whose state making this kind reads (made, or settled). Its readiness wait may
    await more (`ready_after`): the walk orders waits apart, phase by phase."""
    entry = TABLE[kind]
    return tuple(dict.fromkeys((*entry.needs, *entry.settled)))


def apply_order() -> tuple[Kind, ...]:
    """Every kind after the kinds it reads (the declaration order of Kind is one such)."""
    return _ordered(list(TABLE), before)


def cleanup_order() -> tuple[Kind, ...]:
    """Kinds in removal order: each after the kinds that read it (the reversed graph), with the
    cleanup-only edges winning; checked kinds have nothing to remove."""
    return tuple(kind for kind in _ordered(list(TABLE), removed_after) if not is_checked(kind))


def removed_after(kind: Kind) -> tuple[Kind, ...]:
    """The kinds removed before this one: those made from it (its readers through `needs` and
    `settled`), unless a cleanup-only edge says the other way round, and its own cleanup-only
    edges. A readiness wait's inputs are not read by what it made: no edge."""
    entry = TABLE[kind]
    readers = [
        other
        for other, their in TABLE.items()
        if kind in (*their.needs, *their.settled)
        and other not in entry.removed_after
        and kind not in their.removed_after
    ]
    return tuple(k for k in dict.fromkeys((*readers, *entry.removed_after)) if not is_checked(k))


def _ordered(kinds: list[Kind], after: Callable[[Kind], Iterable[Kind]]) -> tuple[Kind, ...]:
    order: list[Kind] = []
    pending = list(kinds)
    while pending:
        ready = [kind for kind in pending if all(dep in order for dep in after(kind))]
        if not ready:  # a cycle: a bug in the table, caught by the unit tests
            raise ValueError(f"dependency cycle among {', '.join(pending)}")
        order += ready
        pending = [kind for kind in pending if kind not in ready]
    return tuple(order)


def is_checked(kind: Kind) -> bool:
    return TABLE[kind].policy is Policy.CHECKED


def rebuilt_with(created: Iterable[Kind]) -> dict[Kind, tuple[Kind, ...]]:
    """For each kind whose desired value changes when `created` kinds are made anew, which of
    them cause it."""
    causes: dict[Kind, list[Kind]] = {}
    for kind in created:
        for dependent in TABLE[kind].rebuilds:
            causes.setdefault(dependent, []).append(kind)
    return {kind: tuple(found) for kind, found in causes.items()}


def active_kinds(marked: Iterable[Kind]) -> frozenset[Kind]:
    """The kinds an apply works on: those the plan marks; a controller-built kind when what it
    is built from changes; the checked facts whenever anything changes (verified at the end)."""
    active = set(marked)
    if not active:
        return frozenset()
    for kind in apply_order():
        entry = TABLE[kind]
        if entry.policy is Policy.CHECKED or (
            entry.policy is Policy.CONTROLLER and active & set(before(kind))
        ):
            active.add(kind)
    return frozenset(active)


def desired_items(spec: StackSpec, seen: Observation) -> tuple[Item, ...]:
    """Every item of the stack with the fields we declare, kind by kind in table order."""
    return tuple(item for entry in TABLE.values() for item in entry.items(spec, seen))


def observed_items(spec: StackSpec, seen: Observation) -> Found:
    """The same items' fields as found (None or absent: missing)."""
    found: Found = {}
    for entry in TABLE.values():
        found.update(entry.found(spec, seen))
    return found


def stack_plan(spec: StackSpec, seen: Observation) -> Plan:
    """The one plan of a stack: its desired items against what was observed (setup, drift,
    remediation and `kfalb plan` all use it)."""
    return plan(desired_items(spec, seen), observed_items(spec, seen), rebuilt=rebuilt_with)


#: The kinds that are verified, never made.
CHECKED: frozenset[Kind] = frozenset(
    kind for kind, entry in TABLE.items() if entry.policy is Policy.CHECKED
)
