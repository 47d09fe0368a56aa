"""Route53 change batches as real Route53 applies them: each change checked in order, all or none.

Pure: works on plain dicts shaped like boto3's ``ResourceRecordSet``; the caller turns
moto's records into these and back. A record set is identified by name, type and
SetIdentifier; names are compared in Route53's stored form (lower case, trailing dot).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.aws.errors import InvalidChangeBatch

RecordSet = dict[str, Any]
Key = tuple[str, str, str]
AliasCheck = Callable[[RecordSet], str | None]

_COMPARED = ("TTL", "Weight", "Region", "Failover", "HealthCheckId", "MultiValueAnswer")


def normalize_name(name: str) -> str:
    """Route53's stored form of a DNS name; ``\\052`` (as listed by Route53) becomes ``*``."""
    stored = name.strip().lower()
    if stored.startswith("\\052"):
        stored = "*" + stored[4:]
    return stored if stored.endswith(".") else stored + "."


def wire_name(name: str) -> str:
    """The name as ListResourceRecordSets returns it: a leading ``*`` is escaped as ``\\052``."""
    return "\\052" + name[1:] if name.startswith("*") else name


def key_of(record: RecordSet) -> Key:
    return (normalize_name(record["Name"]), str(record["Type"]), record.get("SetIdentifier") or "")


def normalize_record(record: RecordSet) -> RecordSet:
    """The record as Route53 stores it: normalised name and alias target, int TTL."""
    stored = {k: v for k, v in record.items() if v is not None}
    stored["Name"] = normalize_name(record["Name"])
    if "TTL" in stored:
        stored["TTL"] = int(stored["TTL"])
    alias = stored.get("AliasTarget")
    if alias:
        stored["AliasTarget"] = {
            "HostedZoneId": alias["HostedZoneId"],
            "DNSName": normalize_name(alias["DNSName"]),
            "EvaluateTargetHealth": bool(alias.get("EvaluateTargetHealth", False)),
        }
    return stored


def same_record(existing: RecordSet, requested: RecordSet) -> bool:
    """True when a DELETE names exactly this record set (values in any order)."""
    old, new = normalize_record(existing), normalize_record(requested)
    if any(old.get(field) != new.get(field) for field in _COMPARED):
        return False
    if old.get("AliasTarget") != new.get("AliasTarget"):
        return False
    return _values(old) == _values(new)


def _values(record: RecordSet) -> list[str]:
    return sorted(str(rr["Value"]) for rr in record.get("ResourceRecords") or [])


def _describe(record: RecordSet) -> str:
    return f"[name='{normalize_name(record['Name'])}', type='{record['Type']}']"


def check_in_zone(zone_name: str, record: RecordSet) -> str | None:
    name = normalize_name(record["Name"])
    if name == zone_name or name.endswith("." + zone_name):
        return None
    return f"RRSet with DNS name {name} is not permitted in zone {zone_name}"


def check_create(current: dict[Key, RecordSet], record: RecordSet) -> str | None:
    if key_of(record) in current:
        return f"Tried to create resource record set {_describe(record)} but it already exists"
    return None


def check_delete(current: dict[Key, RecordSet], record: RecordSet) -> str | None:
    existing = current.get(key_of(record))
    if existing is None:
        return f"Tried to delete resource record set {_describe(record)} but it was not found"
    if not same_record(existing, record):
        return (
            f"Tried to delete resource record set {_describe(record)} "
            "but the values provided do not match the current values"
        )
    return None


def check_apex_kept(zone_name: str, record: RecordSet) -> str | None:
    """The zone's own SOA and NS record sets can be changed but never deleted."""
    if normalize_name(record["Name"]) != zone_name:
        return None
    if record["Type"] == "SOA":
        return "A HostedZone must contain exactly one SOA record."
    if record["Type"] == "NS":
        return "A HostedZone must contain at least one NS record for the zone itself."
    return None


def check_cname_alone(
    zone_name: str, current: dict[Key, RecordSet], record: RecordSet
) -> str | None:
    """A CNAME cannot share its name with any other record set (RFC 1034)."""
    name, rtype = normalize_name(record["Name"]), record["Type"]
    for other_name, other_type, _ in current:
        if other_name != name or other_type == rtype:
            continue
        if "CNAME" in (rtype, other_type):
            return (
                f"RRSet of type {rtype} with DNS name {name} is not permitted because a "
                f"conflicting RRSet of type {other_type} with the same DNS name already "
                f"exists in zone {zone_name}"
            )
    return None


def apply_changes(
    zone_name: str,
    existing: list[RecordSet],
    changes: list[dict[str, Any]],
    *,
    alias_check: AliasCheck | None = None,
) -> list[RecordSet]:
    """The zone's record sets after the batch, or InvalidChangeBatch naming every failure.

    Each change sees the state left by the changes before it (so DELETE then CREATE of the
    same record set works), and nothing is applied unless every change is valid.
    """
    zone_name = normalize_name(zone_name)
    current = {key_of(record): normalize_record(record) for record in existing}
    errors: list[str] = []
    for change in changes:
        action, record = change["Action"], change["ResourceRecordSet"]
        error = _check(zone_name, current, action, record, alias_check)
        if error is not None:
            errors.append(error)
            continue
        if action == "DELETE":
            del current[key_of(record)]
        else:
            current[key_of(record)] = normalize_record(record)
    if errors:
        raise InvalidChangeBatch(errors)
    return list(current.values())


def _check(
    zone_name: str,
    current: dict[Key, RecordSet],
    action: str,
    record: RecordSet,
    alias_check: AliasCheck | None,
) -> str | None:
    error = check_in_zone(zone_name, record)
    if error is None and action == "CREATE":
        error = check_create(current, record)
    if error is None and action == "DELETE":
        error = check_delete(current, record) or check_apex_kept(zone_name, record)
    if error is None and action in ("CREATE", "UPSERT"):
        error = check_cname_alone(zone_name, current, record)
    if (
        error is None
        and action in ("CREATE", "UPSERT")
        and alias_check
        and record.get("AliasTarget")
    ):
        error = alias_check(record)
    return error
