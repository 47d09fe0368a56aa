"""Cleanup's look by the stack's marks, beyond its declared items: every certificate with its
mark and the records it placed, the subnet tags it holds, the providers and the previous
version's role and policy it used, what the ALB controller made for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import naming
from core.cleanup import (
    owned,
    record_lookups,
    recorded_subnet_tags,
    still_present,
    validation_candidates,
)
from core.dnsnames import normalise
from core.kubestate import IngressRef
from core.observation import Observation, Sweep, validation_zones
from core.resources import CertificateState, RecordSetState, ValidationRecord
from core.state import Kind
from tasks.aws.ec2 import observe_added_subnet_tags
from tasks.aws.elbv2 import find_controller_resources
from tasks.aws.iam_legacy import find_legacy_policy, find_legacy_role
from tasks.aws.owned import (
    find_certificates,
    find_oidc_providers,
    find_unused_backend_security_group,
)
from tasks.concurrent import together
from tasks.k8s.cleanup import find_controller_objects, find_ingress_bindings
from tasks.kinds.base import Look
from tasks.kinds.root_zone import RootZone


def sweep_stack(look: Look) -> Sweep:
    """Everything of the stack its marks lead to (read only), the reads together."""
    spec, ctx, seen, target = look.spec, look.ctx, look.found, look.target
    zones = validation_zones(spec, seen.zone, seen.root_zone)
    reads: dict[str, Callable[[], Any]] = {
        "certificates": lambda: find_certificates.fn(ctx, spec.name, zones=zones),
        "subnet_tags": lambda: observe_added_subnet_tags.fn(
            ctx, spec.name, recorded_subnet_tags(look.record)),
        "oidc_providers": lambda: find_oidc_providers.fn(
            ctx, spec.name, [p.id for p in owned(look.record, Kind.OIDC_PROVIDER)]),
        "legacy_policy": lambda: find_legacy_policy.fn(ctx, spec),
        "legacy_role": lambda: find_legacy_role.fn(ctx, spec),
        "load_balancers": lambda: find_controller_resources.fn(ctx, spec),
    }  # fmt: skip
    if look.cluster is not None:
        name = look.cluster.name
        reads["backend_security_group"] = lambda: find_unused_backend_security_group.fn(ctx, name)
    if target is not None:
        installed = bool(owned(look.record, Kind.CONTROLLER))
        reads["controller_objects"] = lambda: find_controller_objects.fn(
            target, spec.name, recorded=installed
        )
        reads["ingress_bindings"] = lambda: find_ingress_bindings.fn(
            target, ingress=IngressRef(name=spec.ingress_name)
        )
    results = dict(zip(reads, together(list(reads.values())), strict=True))
    certificates: tuple[CertificateState, ...] = results["certificates"]
    return Sweep(
        validation_records=_validation_records(look, certificates),
        dashboard_records=_dashboard_records(look, seen),
        kubernetes=target is not None,
        **results,
    )


def _dashboard_records(look: Look, seen: Observation) -> tuple[RecordSetState, ...]:
    """`*.<subdomain>` (A, CNAME, AAAA) and the records the block names as ours (an AAAA alias
    of a stack since made ipv4, the old script's kubeflow.<subdomain> CNAME an import took over)."""
    wildcard = normalise(naming.wildcard(look.spec.subdomain))
    keys = {(wildcard, "A"), (wildcard, "CNAME"), (wildcard, "AAAA")}
    keys |= {(normalise(item.name), item.details.get("type", "CNAME"))
             for item in owned(look.record, Kind.DNS_RECORD)}  # fmt: skip
    return tuple(record for record in seen.zone_records if record.key() in keys)


def _validation_records(
    look: Look, certificates: tuple[CertificateState, ...]
) -> tuple[ValidationRecord, ...]:
    """The stack's validation CNAMEs that are still in their zones with the value it placed."""
    seen = look.found
    candidates = validation_candidates(look.record, certificates)
    lookups = {
        zone_id: keys
        for zone_id, keys in record_lookups(candidates).items()
        if seen.zone is None or zone_id != seen.zone.zone_id
    }
    root = RootZone.of(look.ctx, look.spec, seen)
    present = [*seen.zone_records, *root.record_sets(lookups, candidates)]
    return still_present(candidates, present)
