"""The certificates' DNS validation CNAMEs: UPSERTed one change batch per zone (records no
Route53 zone of ours can hold are published to add by hand); removed once no certificate
validates through them."""

from __future__ import annotations

from functools import partial
from typing import Any

from core import records
from core.cleanup import deletions_by_zone, unneeded_validation_records
from core.dnsnames import normalise
from core.observation import placed, validation_zones
from core.resources import CertificateState, RecordSetState, ValidationRecord
from core.state import Kind, StackResource
from tasks.aws.acm import manual_validation_records, validation_changes
from tasks.aws.owned import find_certificates
from tasks.aws.root_dns import zone_access
from tasks.aws.route53_records import change_records
from tasks.concurrent import together
from tasks.kinds.base import Env, Got, Look, Verbs
from tasks.kinds.root_zone import RootZone
from tasks.reporting import publish_markdown


def observe(look: Look) -> dict[str, Any]:
    """Each validation record of the stack's certificates, as its zone holds it (None: missing);
    the subdomain zone's come from its listing."""
    found = look.found
    in_zone = {record.key(): record for record in found.zone_records}
    root = RootZone.of(look.ctx, look.spec, found)

    def read(wanted: ValidationRecord) -> RecordSetState | None:
        if found.zone is not None and wanted.zone_id == found.zone.zone_id:
            return in_zone.get((normalise(wanted.name), wanted.type.upper()))
        return root.record_set(wanted)

    return {
        "validation_records": {
            record.name: read(record)
            for certificate in found.certificates.values()
            for record in certificate.validation_records
            if record.zone_id is not None
        }
    }


def ensure(env: Env, got: Got) -> tuple[StackResource, ...]:
    """UPSERT the records of the stack's own certificates (an adopted one's are not ours), in
    the zones as they are now (the certificates may be requested before the zone is made)."""
    zones = validation_zones(env.spec, got[Kind.HOSTED_ZONE], env.seen.root_zone)
    certificates = [placed(c, zones) for c in got[Kind.CERTIFICATE] if c.owned]
    root = env.seen.root_zone.zone_id if env.seen.root_zone else None
    batches = validation_changes(certificates)
    together(
        [partial(_change, env, zone_id, changes, root) for zone_id, changes in batches.items()]
    )
    _publish_manual(env, certificates)
    return records.validation_resources(certificates)


def _change(env: Env, zone_id: str, changes: Any, root: str | None) -> Any:
    access = zone_access(env.ctx, env.spec, zone_id, root_zone_id=root)
    return change_records.fn(access, zone_id, changes)


def _publish_manual(env: Env, certificates: list[CertificateState]) -> None:
    manual = manual_validation_records(certificates)
    if not manual:
        return
    lines = "\n".join(f"{r.name}  CNAME  {r.value}" for r in manual)
    publish_markdown(
        env.spec.name,
        "validation-records",
        f"Add these certificate validation records at the DNS provider of "
        f"{env.spec.root}:\n\n```\n{lines}\n```\n",
        "Records to add by hand",
    )


def delete(env: Env) -> str:
    """Remove the records no remaining certificate validates through (ACM shares one record
    between the account's certificates for a name; renewals need it)."""
    seen, spec = env.seen, env.spec
    placed = seen.sweep.validation_records if seen.sweep else ()
    if not placed:
        return ""
    root = RootZone.of(env.ctx, spec, seen)
    zones = validation_zones(spec, seen.zone, seen.root_zone)
    remaining = find_certificates.fn(env.ctx, spec.name, zones=zones)
    unneeded = unneeded_validation_records(placed, remaining)
    batches = deletions_by_zone(unneeded)
    kept = batches.pop(root.zone_id, ()) if root.refused and root.zone_id else ()
    for zone_id, changes in batches.items():
        change_records.fn(root.access(zone_id), zone_id, changes)
    if kept:
        which = ", ".join(change.record.name for change in kept)
        raise root.cannot_remove(
            f"The validation records {which} in zone {root.zone_id} ({spec.root})"
        )
    names = [record.name for record in unneeded]
    return f"deleted validation records {', '.join(names)}" if names else ""


VERBS = Verbs(
    observe=observe,
    observe_after=(Kind.CERTIFICATE, Kind.HOSTED_ZONE),
    ensure=ensure,
    delete=delete,
)
