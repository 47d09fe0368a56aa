"""The shape of a stack (pure): which kinds depend on which, which may be shared by stacks, which
are only checked, and the order in which they are applied and removed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from core.state import Kind

#: What each kind is built on. A resource that must be created anew gives everything built on it
#: values that are known only after apply (a new zone has new name servers; a new certificate a
#: new ARN), so the plan re-applies those dependents too.
DEPENDS_ON: Mapping[Kind, tuple[Kind, ...]] = {
    Kind.HOSTED_ZONE: (),
    Kind.DELEGATION: (Kind.HOSTED_ZONE,),
    Kind.CERTIFICATE: (Kind.HOSTED_ZONE,),
    Kind.VALIDATION_RECORD: (Kind.CERTIFICATE, Kind.HOSTED_ZONE),
    Kind.SUBNET_TAG: (),
    Kind.OIDC_PROVIDER: (),
    Kind.IAM_POLICY: (),
    Kind.IAM_ROLE: (Kind.OIDC_PROVIDER, Kind.IAM_POLICY),
    Kind.POD_IDENTITY: (Kind.IAM_ROLE,),
    Kind.CONTROLLER: (Kind.IAM_ROLE, Kind.POD_IDENTITY, Kind.SUBNET_TAG),
    Kind.INGRESS: (Kind.CONTROLLER, Kind.CERTIFICATE),
    Kind.LOAD_BALANCER: (Kind.INGRESS,),
    Kind.DNS_RECORD: (Kind.LOAD_BALANCER, Kind.HOSTED_ZONE),
    Kind.DNS_ANSWER: (Kind.DNS_RECORD,),
    Kind.HTTPS_ANSWER: (Kind.DNS_ANSWER, Kind.LOAD_BALANCER),
}

#: The edges of DEPENDS_ON along which a new resource changes what its dependent must say: a new
#: zone has other name servers and holds none of the records; a new certificate has another ARN;
#: a new ALB has another DNS name. A dependent that is in place
#: must then be re-applied, as Terraform's "known after apply".
CARRIES_IDENTITY: Mapping[Kind, tuple[Kind, ...]] = {
    Kind.HOSTED_ZONE: (Kind.DELEGATION, Kind.VALIDATION_RECORD, Kind.DNS_RECORD),
    Kind.CERTIFICATE: (Kind.INGRESS,),  # its validation records are items of their own
    Kind.LOAD_BALANCER: (Kind.DNS_RECORD,),
    Kind.IAM_ROLE: (Kind.POD_IDENTITY,),  # a new role is associated again
}

#: Prerequisites another stack on the same cluster or account may use too.
SHARED: frozenset[Kind] = frozenset(
    {Kind.SUBNET_TAG, Kind.OIDC_PROVIDER, Kind.IAM_POLICY, Kind.IAM_ROLE, Kind.CONTROLLER}
)

#: Facts that are verified, never created: apply waits for them, cleanup has nothing to remove.
CHECKED: frozenset[Kind] = frozenset({Kind.DNS_ANSWER, Kind.HTTPS_ANSWER})

#: Made by the ALB controller from our Ingress: changed only through the Ingress.
CONTROLLER_OWNED: frozenset[Kind] = frozenset({Kind.LOAD_BALANCER})


def apply_order() -> tuple[Kind, ...]:
    """Every kind after the kinds it depends on (the declaration order of Kind is one such)."""
    order: list[Kind] = []
    pending = list(Kind)
    while pending:
        ready = [kind for kind in pending if all(dep in order for dep in DEPENDS_ON[kind])]
        if not ready:  # a cycle: a bug in DEPENDS_ON, caught by the unit tests
            raise ValueError(f"dependency cycle among {', '.join(pending)}")
        order += ready
        pending = [kind for kind in pending if kind not in ready]
    return tuple(order)


def cleanup_order() -> tuple[Kind, ...]:
    """The reverse of the apply order, without the kinds that are only checked."""
    return tuple(kind for kind in reversed(apply_order()) if kind not in CHECKED)


def rebuilt_with(created: Iterable[Kind]) -> dict[Kind, tuple[Kind, ...]]:
    """For each kind whose desired value changes when `created` kinds are made anew, which of
    them cause it."""
    causes: dict[Kind, list[Kind]] = {}
    for kind in created:
        for dependent in CARRIES_IDENTITY.get(kind, ()):
            causes.setdefault(dependent, []).append(kind)
    return {kind: tuple(found) for kind, found in causes.items()}
