"""Cleanup's pure decisions: which of a stack's resources are its own, and what is left after."""

from __future__ import annotations

from collections.abc import Iterable

from core.dnsnames import normalise
from core.errors import PermanentError, ResourceNotFound, SpecError
from core.kubestate import IngressState
from core.observation import Observation
from core.resources import (
    CertificateState,
    HostedZoneState,
    RecordChange,
    RecordSetState,
    SubnetTagChange,
    ValidationRecord,
)
from core.spec import StackSpec, parse_spec
from core.state import Kind, StackRecord, StackResource


class CleanupIncomplete(PermanentError):
    """Cleanup ended with resources of the stack still present (named in the message)."""


def resolve_spec(stack: str, spec: StackSpec | None, record: StackRecord | None) -> StackSpec:
    """The spec to clean up by: the one given, else the one saved in the stack's block."""
    if spec is not None:
        if spec.name != stack:
            raise SpecError(f"The spec is for stack {spec.name!r}, not {stack!r}.")
        return spec
    if record is None or not record.spec:
        raise ResourceNotFound(
            f"No saved block for stack {stack!r} (cleaned up already?). Pass the stack's spec "
            "(its config) so cleanup can find what is left by the stack's tags and labels."
        )
    return parse_spec(dict(record.spec))


def owned(record: StackRecord | None, kind: Kind) -> tuple[StackResource, ...]:
    """The record's resources of a kind that the stack created."""
    return tuple(item for item in record.of_kind(kind) if item.owned) if record else ()


def recorded_subnet_tags(record: StackRecord | None) -> tuple[SubnetTagChange, ...]:
    return tuple(
        SubnetTagChange(
            subnet_id=item.details["subnet_id"],
            key=item.details["key"],
            value=item.details["value"],
        )
        for item in owned(record, Kind.SUBNET_TAG)
        if {"subnet_id", "key", "value"} <= item.details.keys()
    )


def validation_candidates(
    record: StackRecord | None, certificates: Iterable[CertificateState]
) -> tuple[ValidationRecord, ...]:
    """Validation CNAMEs the stack placed: recorded ones, and those of its certificates."""
    found = [
        ValidationRecord(
            domains=(),
            name=normalise(item.name),
            value=item.details.get("value", ""),
            zone_id=item.details.get("zone_id") or None,
            zone_name="",
        )
        for item in owned(record, Kind.VALIDATION_RECORD)
    ]
    found += [
        record_
        for certificate in certificates
        if certificate.owned
        for record_ in certificate.validation_records
        if record_.zone_id is not None
    ]
    unique: dict[tuple[str | None, str], ValidationRecord] = {}
    for item in found:
        unique.setdefault((item.zone_id, normalise(item.name)), item)
    return tuple(unique.values())


def record_lookups(records: Iterable[ValidationRecord]) -> dict[str, list[tuple[str, str]]]:
    """(name, type) of each validation record to read, per zone."""
    by_zone: dict[str, list[tuple[str, str]]] = {}
    for item in records:
        if item.zone_id is not None:
            by_zone.setdefault(item.zone_id, []).append((item.name, item.type))
    return by_zone


def still_present(
    candidates: Iterable[ValidationRecord], present: Iterable[RecordSetState]
) -> tuple[ValidationRecord, ...]:
    """Candidates whose CNAME is in its zone with the value the stack placed."""
    there = {(record.key()[0], normalise(value)) for record in present for value in record.values}
    return tuple(
        item for item in candidates if (normalise(item.name), normalise(item.value)) in there
    )


def validation_users(
    records: Iterable[ValidationRecord], certificates: Iterable[CertificateState]
) -> dict[str, tuple[str, ...]]:
    """For each validation record, the certificates that validate through it (ACM shares one
    record between every certificate for the same name in an account)."""
    certificates = list(certificates)
    return {
        normalise(item.name): tuple(
            certificate.arn
            for certificate in certificates
            if normalise(item.name) in {normalise(r.name) for r in certificate.validation_records}
        )
        for item in records
    }


def unneeded_validation_records(
    records: Iterable[ValidationRecord], remaining: Iterable[CertificateState]
) -> tuple[ValidationRecord, ...]:
    """The records no remaining certificate validates through: safe to delete."""
    records = tuple(records)
    users = validation_users(records, remaining)
    return tuple(item for item in records if not users[normalise(item.name)])


def deletions_by_zone(
    records: Iterable[ValidationRecord],
) -> dict[str, tuple[RecordChange, ...]]:
    """DELETE changes for validation records, one change batch per zone."""
    batches: dict[str, list[RecordChange]] = {}
    for item in records:
        if item.zone_id is not None:
            change = RecordChange(action="DELETE", record=item.as_record())
            batches.setdefault(item.zone_id, []).append(change)
    return {zone_id: tuple(changes) for zone_id, changes in batches.items()}


def _target(record: RecordSetState) -> str:
    if record.alias is not None:
        return normalise(record.alias.dns_name).removeprefix("dualstack.")
    return ",".join(normalise(value) for value in record.values)


def own_ingress(seen: Observation, stack: str) -> IngressState | None:
    """The Ingress of the stack's name, when it carries the stack's labels."""
    return seen.ingress if seen.ingress and seen.ingress.owned_by(stack) else None


def own_bindings(seen: Observation, stack: str) -> tuple[str, ...]:
    """The TargetGroupBindings of the Ingress name, unless that Ingress is someone else's."""
    bindings = seen.sweep.ingress_bindings if seen.sweep else ()
    return bindings if seen.ingress is None or own_ingress(seen, stack) else ()


def dashboard_records_to_delete(
    seen: Observation, record: StackRecord | None, stack: str
) -> tuple[RecordSetState, ...]:
    """`*.<subdomain>` records that are the stack's: in its own zone, recorded as created by
    it, or pointing at its load balancer."""
    if seen.zone is None or seen.sweep is None:
        return ()
    recorded = {
        normalise(item.name) + "/" + item.details.get("type", "")
        for item in owned(record, Kind.DNS_RECORD)
    }
    ours = {normalise(item.name) for item in owned(record, Kind.LOAD_BALANCER)}
    ingress = own_ingress(seen, stack)
    if ingress is not None and ingress.hostname:
        ours.add(normalise(ingress.hostname))
    zone = seen.zone
    return tuple(
        item
        for item in seen.sweep.dashboard_records
        if zone.owned or f"{item.key()[0]}/{item.type}" in recorded or _target(item) in ours
    )


def recorded_root_zone(spec: StackSpec, record: StackRecord | None) -> HostedZoneState | None:
    """The root zone as the block (or the spec) names it, for a cleanup that cannot read it."""
    found = record.of_kind(Kind.DELEGATION) if record else ()
    ids = [item.details.get("root_zone_id", "") for item in found]
    zone_id = next(filter(None, ids), None) or spec.route53.root_domain.hosted_zone_id
    return HostedZoneState(zone_id=zone_id, name=spec.root, owned=False) if zone_id else None


def recorded_zone(seen: Observation, record: StackRecord | None) -> HostedZoneState | None:
    """The stack's subdomain zone as found, else as its block recorded it (gone already)."""
    if seen.zone is not None:
        return seen.zone
    for item in owned(record, Kind.HOSTED_ZONE):
        servers = tuple(filter(None, item.details.get("name_servers", "").split(",")))
        return HostedZoneState(zone_id=item.id, name=item.name, name_servers=servers, owned=True)
    return None


def delegated_zone(seen: Observation, record: StackRecord | None) -> HostedZoneState | None:
    """The zone whose delegation the stack may remove: its own zone, or (when that is gone
    already) the one its record names, or an adopted zone the stack wrote the NS record for;
    None when the NS record is not the stack's."""
    if seen.delegation is None or seen.root_zone is None:
        return None
    zone = recorded_zone(seen, record)
    written = any(
        normalise(item.name) == normalise(seen.delegation.name)
        for item in owned(record, Kind.DELEGATION)
    )
    if zone is None or not (zone.owned or written):
        return None
    wanted = seen.delegation.model_copy(update={"values": zone.name_servers})
    return zone if seen.delegation.same_as(wanted) else None
