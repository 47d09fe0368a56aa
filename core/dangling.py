"""Records a cleanup could not remove from a zone it does not own (pure): the exact change that
removes them, and why an NS delegation left behind is dangerous.

The root zone (often in another account) holds the subdomain's NS delegation and the `*.<root>`
certificate's validation CNAME. When cleanup cannot remove them (the root zone's role is gone,
access is denied), they are leftovers: an NS record that still delegates to a deleted hosted
zone lets anyone who creates a zone of that name on one of those name servers answer for the
subdomain (a subdomain takeover). The report gives the change batch to apply, as Route53 needs
it for a DELETE (every value and the TTL exactly as they are), and the warning.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.dnsnames import normalise
from core.resources import RecordSetState


@dataclass(frozen=True)
class LeftoverRecords:
    """What to remove by hand from one zone, and the warning when a delegation is among it."""

    zone_id: str | None  # None: a zone outside Route53 (a registrar's DNS)
    zone_name: str
    records: tuple[RecordSetState, ...]
    change_batch: dict[str, Any]
    command: str  # the AWS CLI call that applies it ("" outside Route53)
    lines: tuple[str, ...]  # one line per record: `DELETE name TYPE ttl value,...`
    warning: str = ""  # the subdomain-takeover warning, when an NS delegation is left

    @property
    def text(self) -> str:
        """The whole report of this zone, for a message or an artifact."""
        where = (
            f"hosted zone {self.zone_id} ({self.zone_name})"
            if self.zone_id
            else (f"the DNS provider of {self.zone_name}")
        )
        parts = [f"Left in {where}; remove by hand:", *(f"  {line}" for line in self.lines)]
        if self.command:
            parts.append(f"  {self.command}")
        if self.warning:
            parts.append(self.warning)
        return "\n".join(parts)


def route53_record_set(record: RecordSetState) -> dict[str, Any]:
    """The record set as Route53's ChangeResourceRecordSets takes it (also the tasks' writes)."""
    body: dict[str, Any] = {"Name": record.name, "Type": record.type}
    if record.alias is not None:
        body["AliasTarget"] = {
            "HostedZoneId": record.alias.hosted_zone_id,
            "DNSName": record.alias.dns_name,
            "EvaluateTargetHealth": record.alias.evaluate_target_health,
        }
    else:
        body["TTL"] = record.ttl if record.ttl is not None else 300
        body["ResourceRecords"] = [{"Value": value} for value in record.values]
    return body


def _by_hand(record: RecordSetState) -> dict[str, Any]:
    """As the AWS CLI change batch names it: absolute name, upper-case type."""
    return route53_record_set(record) | {
        "Name": _absolute(record.name),
        "Type": record.type.upper(),
    }


def _absolute(name: str) -> str:
    return normalise(name) + "."


def _line(record: RecordSetState) -> str:
    if record.alias is not None:
        target = f"ALIAS {record.alias.dns_name} (zone {record.alias.hosted_zone_id})"
    else:
        target = f"{record.ttl if record.ttl is not None else 300} {','.join(record.values)}"
    return f"DELETE {_absolute(record.name)} {record.type.upper()} {target}"


def takeover_warning(subdomain: str, name_servers: Iterable[str]) -> str:
    """Why an NS delegation to a deleted zone must go now."""
    servers = ", ".join(sorted(normalise(server) for server in name_servers)) or "its servers"
    return (
        f"WARNING: the NS record of {normalise(subdomain)} still delegates to {servers}, but "
        "its hosted zone is deleted. Anyone who creates a hosted zone for that name served by "
        f"one of those name servers can answer for {normalise(subdomain)} and everything under "
        "it (a subdomain takeover): remove the NS record now."
    )


def leftover_records(
    *,
    zone_name: str,
    zone_id: str | None,
    records: Iterable[RecordSetState],
    deleted_zones: Iterable[str] = (),
) -> LeftoverRecords:
    """The change that removes `records` from the zone, and the takeover warning for each NS
    delegation among them that points at a zone in `deleted_zones` (names of hosted zones that
    no longer exist, e.g. the stack's subdomain zone cleanup deleted)."""
    found = tuple(records)
    batch = {
        "Comment": f"kubeflow-alb: records left in {normalise(zone_name)}",
        "Changes": [{"Action": "DELETE", "ResourceRecordSet": _by_hand(r)} for r in found],
    }
    command = ""
    if zone_id:
        command = (
            f"aws route53 change-resource-record-sets --hosted-zone-id {zone_id} "
            f"--change-batch {shlex.quote(json.dumps(batch, separators=(',', ':')))}"
        )
    gone = {normalise(name) for name in deleted_zones}
    warnings = [
        takeover_warning(record.name, record.values)
        for record in found
        if record.type.upper() == "NS" and normalise(record.name) in gone
    ]
    return LeftoverRecords(
        zone_id=zone_id,
        zone_name=normalise(zone_name),
        records=found,
        change_batch=batch,
        command=command,
        lines=tuple(_line(record) for record in found),
        warning="\n".join(warnings),
    )
