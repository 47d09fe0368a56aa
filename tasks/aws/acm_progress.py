"""What a certificate wait reports as it goes: each certificate's status and where its
validation records are visible (the zone's own name servers, the resolvers ACM-like clients use)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.dnsnames import normalise
from core.resources import CertificateState, ValidationRecord
from core.settings import Settings
from tasks.aws.clients import AwsContext, client
from tasks.dns import answers, authoritative_answers


def zone_name_servers(ctx: AwsContext) -> Callable[[ValidationRecord, Settings], tuple[str, ...]]:
    """A look-up of a record's zone's name servers, remembered per zone for the whole wait.

    A Route53 zone's own servers come from GetHostedZone (one read per zone per wait); a zone
    elsewhere is asked for by NS at the resolvers.
    """
    known: dict[str, tuple[str, ...]] = {}

    def lookup(record: ValidationRecord, settings: Settings) -> tuple[str, ...]:
        key = record.zone_id or record.zone_name
        if key not in known:
            if record.zone_id:
                zone = client(ctx, "route53").get_hosted_zone(Id=record.zone_id)
                known[key] = tuple(zone.get("DelegationSet", {}).get("NameServers", []))
            else:
                known[key] = answers(record.zone_name, "NS", settings)
        return known[key]

    return lookup


def visibility(
    record: ValidationRecord,
    name_servers: Sequence[str],
    settings: Settings,
) -> str:
    """`<name>: zone servers yes|no|?, resolvers yes|no` for one validation CNAME."""
    wanted = normalise(record.value)
    if name_servers:
        seen = authoritative_answers(record.name, record.type, name_servers, settings)
        at_zone = "yes" if seen and all(wanted in v for v in seen.values()) else "no"
    else:
        at_zone = "? (zone's name servers unknown)"
    at_resolvers = "yes" if wanted in answers(record.name, record.type, settings) else "no"
    return f"{record.name} at the zone's name servers: {at_zone}, at the resolvers: {at_resolvers}"


def certificates_progress(
    states: Sequence[CertificateState],
    *,
    settings: Settings,
    name_servers: Callable[[ValidationRecord, Settings], tuple[str, ...]],
) -> str:
    """One clause per certificate: status, then each validation record's visibility."""
    parts = []
    for state in states:
        clause = f"{state.domain} {state.status}"
        if state.status != "ISSUED":
            records = [
                visibility(record, name_servers(record, settings), settings)
                for record in state.validation_records
            ]
            clause += " (" + ("; ".join(records) or "no validation records yet") + ")"
        parts.append(clause)
    return "; ".join(parts)
