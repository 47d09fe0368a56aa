"""Route53 record sets: observe, change in one batch per zone (skipping no-ops), delete."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from core.dangling import route53_record_set
from core.dnsnames import normalise
from core.errors import OwnershipError, WaitTimeout
from core.resources import AliasTarget, ChangeResult, RecordChange, RecordSetState
from core.settings import Settings, get_settings
from core.waits import WAITS
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import aws_task, error_code
from tasks.logs import run_logger
from tasks.waits import wait_for

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_route53.literals import RRTypeType
    from mypy_boto3_route53.type_defs import ChangeTypeDef, ResourceRecordSetTypeDef

_ESCAPE = re.compile(r"\\(\d{3})")


def zone_id_of(raw: str) -> str:
    """A zone id without the `/hostedzone/` prefix."""
    return raw.rsplit("/", 1)[-1]


def record_name(raw: str) -> str:
    """A Route53 name, unescaped (`\\052` is `*`), lower case, without the trailing dot."""
    return normalise(_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), raw))


def parse_record(raw: Mapping[str, Any]) -> RecordSetState:
    alias = raw.get("AliasTarget")
    return RecordSetState(
        name=record_name(raw["Name"]),
        type=raw["Type"],
        ttl=raw.get("TTL"),
        values=tuple(item["Value"] for item in raw.get("ResourceRecords", [])),
        alias=AliasTarget(
            hosted_zone_id=alias["HostedZoneId"],
            dns_name=normalise(alias["DNSName"]),
            evaluate_target_health=alias.get("EvaluateTargetHealth", False),
        )
        if alias
        else None,
    )


def _to_api(record: RecordSetState) -> ResourceRecordSetTypeDef:
    return cast("ResourceRecordSetTypeDef", route53_record_set(record))


def read_record(r53: Route53Client, zone_id: str, name: str, type_: str) -> RecordSetState | None:
    """The record set `name`/`type_` of a zone, or None (the list starts at the name asked for)."""
    found = r53.list_resource_record_sets(
        HostedZoneId=zone_id,
        StartRecordName=name,
        StartRecordType=cast("RRTypeType", type_.upper()),
        MaxItems="1",
    )["ResourceRecordSets"]
    wanted = (normalise(name), type_.upper())
    for raw in found:
        record = parse_record(raw)
        if record.key() == wanted:
            return record
    return None


def read_all_records(r53: Route53Client, zone_id: str) -> list[RecordSetState]:
    pages = r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
    return [parse_record(raw) for page in pages for raw in page["ResourceRecordSets"]]


def _decide(change: RecordChange, current: RecordSetState | None) -> RecordChange | None:
    """The change to send given the current record, or None when it would change nothing."""
    if change.action == "DELETE":
        # DELETE must carry the exact current values; a missing record is already gone.
        return None if current is None else RecordChange(action="DELETE", record=current)
    if current is not None and current.same_as(change.record):
        return None
    if change.action == "CREATE" and current is not None:
        name, type_ = change.record.key()
        raise OwnershipError(
            f"Record {name} {type_} already exists with other values {current.values or current.alias}; "
            "refusing to overwrite a record this stack did not create. Remove it or use another name."
        )
    return change


def apply_changes(
    ctx: AwsContext, zone_id: str, changes: Sequence[RecordChange], *, settings: Settings
) -> ChangeResult:
    """Send every needed change for one zone in one batch and wait until it is INSYNC."""
    r53 = client(ctx, "route53")
    unique = list(dict.fromkeys(changes))
    keys = [change.record.key() for change in unique]
    if len(set(keys)) != len(keys):
        raise ValueError(f"Conflicting changes for the same record set in zone {zone_id}: {keys}")
    applied: list[RecordChange] = []
    skipped: list[RecordChange] = []
    for change in unique:
        current = read_record(r53, zone_id, change.record.name, change.record.type)
        needed = _decide(change, current)
        (applied if needed is not None else skipped).append(needed or change)
    if not applied:
        return ChangeResult(zone_id=zone_id, skipped=tuple(skipped))
    batch: list[ChangeTypeDef] = [
        {"Action": change.action, "ResourceRecordSet": _to_api(change.record)} for change in applied
    ]
    try:
        info = r53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={"Comment": "kubeflow-alb", "Changes": batch},
        )["ChangeInfo"]
    except ClientError as error:
        if error_code(error) != "InvalidChangeBatch" or not _all_hold(r53, zone_id, applied):
            raise
        # A DELETE or CREATE sent again after its answer was lost (botocore retries 5xx and
        # reset connections) finds its own work done: the batch was applied, its id is lost.
        run_logger().info("Route53 zone %s: the changes were applied already", zone_id)
        return ChangeResult(zone_id=zone_id, applied=tuple(applied), skipped=tuple(skipped))
    run_logger().info(
        "Route53 zone %s: %s",
        zone_id,
        ", ".join(f"{c.action} {c.record.name} {c.record.type}" for c in applied),
    )
    wait_insync(r53, info["Id"], settings=settings)
    return ChangeResult(
        zone_id=zone_id, change_id=info["Id"], applied=tuple(applied), skipped=tuple(skipped)
    )


def _all_hold(r53: Route53Client, zone_id: str, changes: Sequence[RecordChange]) -> bool:
    """True when the zone already shows every change (deleted ones absent, others as sent)."""
    for change in changes:
        current = read_record(r53, zone_id, change.record.name, change.record.type)
        if change.action == "DELETE":
            if current is not None:
                return False
        elif current is None or not current.same_as(change.record):
            return False
    return True


def wait_insync(r53: Route53Client, change_id: str, *, settings: Settings) -> None:
    """Wait (bounded by settings) until a Route53 change has reached every name server."""
    try:
        wait_for(
            WAITS.route53_insync.of(change_id),
            lambda: r53.get_change(Id=change_id)["ChangeInfo"]["Status"],
            until=lambda status: status == "INSYNC",
            settings=settings,
            describe=lambda status: f"status {status}",
        )
    except WaitTimeout as error:
        raise WaitTimeout(
            f"{error}. Route53 usually syncs within a minute, so check the AWS Health Dashboard "
            "and re-run."
        ) from None


@aws_task
def observe_record_set(
    ctx: AwsContext, zone_id: str, name: str, record_type: str
) -> RecordSetState | None:
    """Read one record set (name and type) of a hosted zone; nothing when it does not exist."""
    return read_record(client(ctx, "route53"), zone_id, name, record_type)


@aws_task
def observe_zone_records(ctx: AwsContext, zone_id: str) -> dict[tuple[str, str], RecordSetState]:
    """Every record set of a (small) zone by (normalised name, type): one listing instead of a
    read per record (a stack's subdomain zone holds a handful)."""
    pages = client(ctx, "route53").get_paginator("list_resource_record_sets")
    records = (
        parse_record(raw)
        for page in pages.paginate(HostedZoneId=zone_id)
        for raw in page["ResourceRecordSets"]
    )
    return {record.key(): record for record in records}


@aws_task
def observe_record_sets(
    ctx: AwsContext, zone_id: str, keys: Sequence[tuple[str, str]]
) -> tuple[RecordSetState, ...]:
    """Read several record sets (name, type) of a zone: those that exist; none when the zone
    itself is gone."""
    r53 = client(ctx, "route53")
    wanted = {(normalise(name), type_.upper()) for name, type_ in keys}
    names = {name: sorted(t for n, t in wanted if n == name) for name, _ in sorted(wanted)}
    try:
        # Route53 admits 5 requests a second per account: one listing per name, not per type.
        found = [record for name, types in names.items()
                 for record in read_name(r53, zone_id, name, types)]  # fmt: skip
    except ClientError as error:
        if error_code(error) == "NoSuchHostedZone":
            return ()
        raise
    return tuple(record for record in found if record.key() in wanted)


#: Record sets one listing asks for: every type of a name fits (more only with routing policies).
_NAME_PAGE = 100


def read_name(
    r53: Route53Client, zone_id: str, name: str, types: Sequence[str]
) -> list[RecordSetState]:
    """The record sets of one name in a zone, of the given types: one listing that starts at
    the name (Route53 lists a name's record sets one after another) and is done when a record
    of another name or the zone's end follows them; a name with more record sets than the
    page holds is read type by type."""
    page = r53.list_resource_record_sets(
        HostedZoneId=zone_id, StartRecordName=name, MaxItems=str(_NAME_PAGE)
    )
    found = [parse_record(raw) for raw in page["ResourceRecordSets"]]
    if page.get("IsTruncated") and all(record.name == normalise(name) for record in found):
        read = (read_record(r53, zone_id, name, type_) for type_ in types)
        return [record for record in read if record is not None]
    return [record for record in found if record.name == normalise(name)]


@aws_task
def change_records(
    ctx: AwsContext,
    zone_id: str,
    changes: Sequence[RecordChange],
    *,
    settings: Settings | None = None,
) -> ChangeResult:
    """Apply record changes to one hosted zone in a single batch, skipping those already true.

    CREATE refuses to overwrite a different existing record; DELETE of a missing record is a
    no-op. Waits until Route53 reports the change INSYNC.
    """
    return apply_changes(ctx, zone_id, changes, settings=settings or get_settings())


@aws_task
def delete_record_set(
    ctx: AwsContext,
    zone_id: str,
    name: str,
    record_type: str,
    *,
    settings: Settings | None = None,
) -> bool:
    """Delete one record set with its current values; False when it (or its zone) is gone."""
    try:
        result = apply_changes(
            ctx,
            zone_id,
            [RecordChange(action="DELETE", record=RecordSetState(name=name, type=record_type))],
            settings=settings or get_settings(),
        )
    except ClientError as error:
        if error_code(error) == "NoSuchHostedZone":
            return False
        raise
    return result.changed
