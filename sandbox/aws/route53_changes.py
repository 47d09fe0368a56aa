"""ChangeResourceRecordSets and ListResourceRecordSets in front of moto's Route53 records.

The batch is validated and applied by ``route53_records`` (atomic, exact DELETE, no
duplicate CREATE, CNAME alone, apex SOA/NS kept, alias to an existing load balancer), then
written back to moto's zone in one assignment so that readers in other threads never see
half a batch. Listing shows a leading ``*`` as ``\\052``, as Route53 does.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.core.responses import ActionResult
from moto.route53.exceptions import InvalidActionValue
from moto.route53.models import FakeZone, RecordSet, Route53Backend
from moto.route53.responses import Route53
from moto.route53.utils import validate_domain_name

from sandbox.aws import elbv2
from sandbox.aws.hooks import Realism, hook, state_lock
from sandbox.aws.route53_records import AliasCheck, apply_changes, normalize_name, wire_name
from sandbox.aws.route53_records import RecordSet as RecordDict

_OPTIONAL_FIELDS = (
    "SetIdentifier",
    "Weight",
    "Region",
    "Failover",
    "HealthCheckId",
    "MultiValueAnswer",
    "GeoLocation",
)


def to_dict(rrset: RecordSet) -> RecordDict:
    """A moto record set as boto3 shows it (moto's own SOA keeps its values as dicts)."""
    record: RecordDict = {"Name": rrset.name, "Type": rrset.type}
    if rrset.ttl not in (None, ""):
        record["TTL"] = int(rrset.ttl)
    values = [v.get("Value") if isinstance(v, dict) else v for v in rrset.records or []]
    if values:
        record["ResourceRecords"] = [{"Value": str(value)} for value in values]
    if rrset.alias_target:
        record["AliasTarget"] = dict(rrset.alias_target)
    for field in _OPTIONAL_FIELDS:
        value = getattr(rrset, _attribute(field))
        if value is not None:
            record[field] = value
    return record


def to_moto(record: RecordDict, zone: FakeZone) -> RecordSet:
    fields = dict(record)
    fields["ResourceRecords"] = [rr["Value"] for rr in record.get("ResourceRecords") or []]
    fields["HostedZoneId"] = zone.resource_id
    return RecordSet(fields)  # type: ignore[abstract]


def _attribute(field: str) -> str:
    special = {"SetIdentifier": "set_identifier", "HealthCheckId": "health_check_id"}
    if field in special:
        return special[field]
    return "".join("_" + c.lower() if c.isupper() else c for c in field).lstrip("_")


def elb_alias_check(account_id: str, default_region: str) -> AliasCheck:
    """Aliases to a load balancer must name one that exists, in its canonical hosted zone."""

    def check(record: RecordDict) -> str | None:
        alias = record["AliasTarget"]
        target = normalize_name(alias["DNSName"])
        zone_id = alias["HostedZoneId"]
        if not elbv2.is_elb_alias(target, zone_id):
            return None
        what = f"Tried to create an alias that targets {target}, type {record['Type']} in zone {zone_id}"
        balancer = elbv2.find_by_dns_name(account_id, target, default_region)
        if balancer is None:
            return f"{what}, but the alias target name does not lie within the target zone"
        if balancer.canonical_hosted_zone_id != zone_id:
            return f"{what}, but the alias target name does not lie within the target zone"
        return None

    return check


def _around_change_resource_record_sets(
    realism: Realism,
    original: Any,
    backend: Route53Backend,
    zoneid: str,
    change_list: list[dict[str, Any]],
) -> None:
    zone = backend.get_hosted_zone(zoneid)
    for change in change_list:
        validate_domain_name(change["ResourceRecordSet"]["Name"], code="InvalidChangeBatch")
        if change["Action"] not in ("CREATE", "UPSERT", "DELETE"):
            raise InvalidActionValue(change["Action"])
    check = elb_alias_check(backend.account_id, realism.region)
    with state_lock():
        existing = [to_dict(rrset) for rrset in zone.rrsets]
        after = apply_changes(zone.name, existing, change_list, alias_check=check)
        zone.rrsets = [to_moto(record, zone) for record in after]


def _around_list_resource_record_sets(realism: Realism, original: Any, response: Route53) -> Any:
    start_name = response._get_param("StartRecordName")
    if start_name:
        # The listing compares names as stored, where a wildcard is a plain '*'.
        response.params["StartRecordName"] = normalize_name(start_name)
    result = original(response)
    if isinstance(result, ActionResult) and isinstance(result.result, dict):
        listed = result.result.get("ResourceRecordSets") or []
        result.result["ResourceRecordSets"] = [_as_listed(rrset) for rrset in listed]
        if result.result.get("NextRecordName"):
            result.result["NextRecordName"] = wire_name(result.result["NextRecordName"])
    return result


def _as_listed(rrset: RecordSet) -> RecordSet:
    shown = copy.copy(rrset)
    shown.name = wire_name(rrset.name)
    return shown


def install() -> None:
    hook(Route53Backend, "change_resource_record_sets", _around_change_resource_record_sets)
    hook(Route53, "list_resource_record_sets", _around_list_resource_record_sets)
