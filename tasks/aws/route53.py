"""Route53 hosted zones: the root zone, the subdomain zone (ours or adopted) and its delegation."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from prefect.context import FlowRunContext

from core import naming
from core.dnsnames import normalise
from core.errors import AwsError, OwnershipError, PreflightError
from core.resources import HostedZoneState
from core.settings import Settings, get_settings
from core.spec import StackSpec
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import aws_task, error_code, or_none, read_back
from tasks.aws.route53_delegation import delete_delegation, ensure_delegation, observe_delegation
from tasks.aws.route53_records import (
    change_records,
    delete_record_set,
    observe_record_set,
    read_all_records,
    record_name,
    wait_insync,
    zone_id_of,
)
from tasks.logs import run_logger

# Delegation and record sets live in their own modules; the tasks are re-exported here.
__all__ = [
    "change_records",
    "delete_delegation",
    "delete_hosted_zone",
    "delete_record_set",
    "ensure_delegation",
    "ensure_hosted_zone",
    "find_root_zone",
    "find_subdomain_zone",
    "observe_delegation",
    "observe_hosted_zone",
    "observe_record_set",
]

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_route53.type_defs import TagTypeDef


def _public_zones_named(r53: Route53Client, name: str) -> list[dict[str, Any]]:
    """Public hosted zones with exactly this name (ListHostedZonesByName starts at the name)."""
    wanted, found = normalise(name), list[dict[str, Any]]()
    kwargs: dict[str, Any] = {"DNSName": wanted}
    while True:
        page = r53.list_hosted_zones_by_name(**kwargs)
        for zone in page["HostedZones"]:
            if record_name(zone["Name"]) != wanted:
                return found
            if not zone.get("Config", {}).get("PrivateZone", False):
                found.append(dict(zone))
        if not page.get("IsTruncated"):
            return found
        kwargs = {"DNSName": page["NextDNSName"], "HostedZoneId": page["NextHostedZoneId"]}


def _tags(r53: Route53Client, zone_ids: list[str]) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    for start in range(0, len(zone_ids), 10):
        found = r53.list_tags_for_resources(
            ResourceType="hostedzone", ResourceIds=zone_ids[start : start + 10]
        )["ResourceTagSets"]
        for item in found:
            tags[item["ResourceId"]] = {tag["Key"]: tag["Value"] for tag in item.get("Tags", [])}
    return tags


def _read_zone(
    r53: Route53Client, zone_id: str, *, spec: StackSpec | None, tags: dict[str, str] | None = None
) -> HostedZoneState | None:
    """GetHostedZone as a state; ownership from our tags or our CallerReference."""
    found = or_none("NoSuchHostedZone", lambda: r53.get_hosted_zone(Id=zone_id))
    if found is None:
        return None
    zone = found["HostedZone"]
    zid = zone_id_of(zone["Id"])
    if spec is not None and tags is None:
        tags = _tags(r53, [zid]).get(zid, {})
    tags = tags or {}
    reference = zone.get("CallerReference", "")
    owned = spec is not None and (
        naming.is_owned(tags, spec.name)
        # A zone we created but could not tag yet (a crash in between) is still ours.
        or reference.startswith(_reference_prefix(spec))
    )
    return HostedZoneState(
        zone_id=zid,
        name=record_name(zone["Name"]),
        name_servers=tuple(found.get("DelegationSet", {}).get("NameServers", ())),
        private=zone.get("Config", {}).get("PrivateZone", False),
        owned=owned,
        caller_reference=reference,
        record_count=zone.get("ResourceRecordSetCount", 0),
        tags=tags,
    )


def _reference_prefix(spec: StackSpec) -> str:
    """The CallerReference of this stack's subdomain zone without its setup attempt."""
    return naming.zone_reference_prefix(spec.name, spec.subdomain)


def setup_attempt() -> str:
    """What tells one setup from another: its flow run id (kept by retries within the run);
    outside a flow run, the time of the call in milliseconds."""
    run = FlowRunContext.get()
    if run is not None and run.flow_run is not None:
        return str(run.flow_run.id)
    return f"t{time.time_ns() // 1_000_000}"


def find_subdomain_zone(
    r53: Route53Client, spec: StackSpec, zone_id: str | None = None, *, recorded: str | None = None
) -> HostedZoneState | None:
    """The subdomain zone: by id, else ours by tags, else the one pre-existing public zone.
    A `recorded` id (the stack's record) is read first and taken only while that zone is
    still the stack's (its tags or CallerReference), public and for the subdomain."""
    if zone_id:
        return _read_zone(r53, zone_id, spec=spec)
    if recorded and (zone := _recorded_zone(r53, recorded, spec)) is not None:
        return zone
    zones = _public_zones_named(r53, spec.subdomain)
    if not zones:
        return None
    ids = [zone_id_of(zone["Id"]) for zone in zones]
    tags = _tags(r53, ids)
    states = [_read_zone(r53, zid, spec=spec, tags=tags.get(zid, {})) for zid in ids]
    present = [state for state in states if state is not None]
    ours = [state for state in present if state.owned]
    if len(ours) > 1:
        raise AwsError(
            f"Several hosted zones for {spec.subdomain} belong to stack {spec.name}: "
            f"{', '.join(z.zone_id for z in ours)}. Delete the extra ones (and their records)."
        )
    if ours:
        return ours[0]
    if len(present) > 1:
        raise PreflightError(
            f"Several public hosted zones are named {spec.subdomain} "
            f"({', '.join(z.zone_id for z in present)}) and none belongs to stack {spec.name}; "
            "delete the ones not delegated from the root domain."
        )
    return present[0] if present else None


def _recorded_zone(r53: Route53Client, zone_id: str, spec: StackSpec) -> HostedZoneState | None:
    try:
        zone = _read_zone(r53, zone_id, spec=spec)
    except ClientError as error:
        if error_code(error) == "InvalidInput":  # a malformed id is no better than a gone one
            return None
        raise
    if zone is None or not zone.owned or zone.private or zone.name != normalise(spec.subdomain):
        return None
    return zone


def _sync_tags(r53: Route53Client, zone: HostedZoneState, spec: StackSpec) -> HostedZoneState:
    missing: list[TagTypeDef] = [
        {"Key": key, "Value": value}
        for key, value in spec.tags.items()
        if zone.tags.get(key) != value
    ]
    for start in range(0, len(missing), 10):  # ChangeTagsForResource takes 10 tags at a time
        r53.change_tags_for_resource(
            ResourceType="hostedzone", ResourceId=zone.zone_id, AddTags=missing[start : start + 10]
        )
    if not missing:
        return zone
    return zone.model_copy(update={"tags": {**zone.tags, **spec.tags}, "owned": True})


def refuse_foreign_zone(zone: HostedZoneState | None, spec: StackSpec) -> HostedZoneState | None:
    """The zone, unless it is someone else's and the spec does not ask to adopt it."""
    if zone is not None and not zone.owned and not spec.stack.adopt_zone:
        raise PreflightError(
            f"Hosted zone {zone.zone_id} ({zone.name}) exists and was not created by kubeflow-alb "
            f"stack {spec.name}. Set stack.adoptZone: true to use it (setup then writes records "
            "into it and delegates the root domain to it; cleanup removes those, never the "
            "zone), or remove it, or use another subdomain. Nothing was changed."
        )
    return zone


@aws_task
def find_root_zone(
    ctx: AwsContext, spec: StackSpec, *, by_name_when_gone: bool = False
) -> HostedZoneState | None:
    """Find the root domain's public hosted zone (by id when given, else by name).

    Returns nothing when the root domain is not in Route53: its NS records are then added by hand.
    `by_name_when_gone` (cleanup): a recorded id whose zone no longer exists (the root zone was
    re-created with a new id) is looked up again by name instead of stopping the run.
    """
    r53, root = client(ctx, "route53"), spec.root
    given = spec.route53.root_domain.hosted_zone_id
    if given:
        zone = _read_zone(r53, given, spec=None)
        where = f"Hosted zone {given} (route53.rootDomain.hostedZoneId)"
        if zone is None and by_name_when_gone:
            run_logger().warning("%s does not exist any more; looking %s up by name", where, root)
            return _root_by_name(r53, root)
        if zone is None:
            raise PreflightError(f"{where} does not exist in this AWS account.")
        if zone.private:
            raise PreflightError(f"{where} is private; the root domain needs its public zone.")
        if zone.name != root:
            raise PreflightError(f"{where} is for {zone.name}, not the root domain {root}.")
        return zone
    return _root_by_name(r53, root)


def _root_by_name(r53: Route53Client, root: str) -> HostedZoneState | None:
    zones = _public_zones_named(r53, root)
    if len(zones) > 1:
        ids = ", ".join(zone_id_of(zone["Id"]) for zone in zones)
        raise PreflightError(
            f"There are {len(zones)} public hosted zones named {root} ({ids}); set "
            "route53.rootDomain.hostedZoneId to the one your registrar delegates to."
        )
    if not zones:
        run_logger().warning("%s has no public hosted zone in Route53", root)
        return None
    return _read_zone(r53, zone_id_of(zones[0]["Id"]), spec=None)


@aws_task
def observe_hosted_zone(
    ctx: AwsContext, spec: StackSpec, *, zone_id: str | None = None, recorded: str | None = None
) -> HostedZoneState | None:
    """Find the subdomain's hosted zone: ours (tagged; read first by the id the stack's record
    gives) or a pre-existing one we adopt."""
    return find_subdomain_zone(client(ctx, "route53"), spec, zone_id, recorded=recorded)


@aws_task
def ensure_hosted_zone(
    ctx: AwsContext,
    spec: StackSpec,
    *,
    settings: Settings | None = None,
    attempt: str | None = None,
) -> HostedZoneState:
    """Make sure the subdomain has a public hosted zone: reuse ours, adopt a pre-existing one,
    or create it with the stack's ownership tags and a CallerReference of this setup (one
    CreateHostedZone, however often the stack was set up and cleaned up before)."""
    r53, log = client(ctx, "route53"), run_logger()
    zone = refuse_foreign_zone(find_subdomain_zone(r53, spec), spec)
    if zone is not None and not zone.owned:
        log.info(
            "Using pre-existing hosted zone %s for %s (not ours; stack.adoptZone)",
            zone.zone_id,
            zone.name,
        )
        return zone
    if zone is not None:
        return _sync_tags(r53, zone, spec)
    reference = naming.zone_caller_reference(spec.name, spec.subdomain, attempt or setup_attempt())
    try:
        created = r53.create_hosted_zone(
            Name=spec.subdomain,
            CallerReference=reference,
            HostedZoneConfig={"Comment": f"kubeflow-alb stack {spec.name}", "PrivateZone": False},
        )
    except ClientError as error:
        if error_code(error) != "HostedZoneAlreadyExists":
            raise
        # This setup made it already (a lost response, retried), or a concurrent run did.
        zone = find_subdomain_zone(r53, spec)
        if zone is not None:
            return _sync_tags(r53, zone, spec) if zone.owned else zone
        raise AwsError(
            f"Route53 refuses CallerReference {reference} for {spec.subdomain}: this setup made a "
            "zone with it that is gone now. Run setup again (a new run uses a new reference).",
            code="HostedZoneAlreadyExists",
        ) from None
    zone_id = zone_id_of(created["HostedZone"]["Id"])
    log.info("Created hosted zone %s for %s", zone_id, spec.subdomain)
    state = read_back(
        lambda: _read_zone(r53, zone_id, spec=spec, tags={}), f"Hosted zone {zone_id}"
    )
    state = _sync_tags(r53, state, spec)
    wait_insync(r53, created["ChangeInfo"]["Id"], settings=settings or get_settings())
    return state


@aws_task
def delete_hosted_zone(ctx: AwsContext, spec: StackSpec, *, zone_id: str | None = None) -> bool:
    """Delete the subdomain's hosted zone if this stack created it; False when already gone.

    Refuses (with the list) while records other than the zone's own NS and SOA remain.
    """
    r53 = client(ctx, "route53")
    zone = find_subdomain_zone(r53, spec, zone_id)
    if zone is None:
        return False
    if not zone.owned:
        raise OwnershipError(
            f"Hosted zone {zone.zone_id} ({zone.name}) does not carry stack {spec.name}'s tags; "
            "it is left as it is."
        )
    extra = [
        f"{record.name} {record.type}"
        for record in read_all_records(r53, zone.zone_id)
        if not (record.name == zone.name and record.type in ("NS", "SOA"))
    ]
    if extra:
        raise AwsError(
            f"Hosted zone {zone.zone_id} ({zone.name}) still has records: "
            f"{', '.join(extra[:10])}{' ...' if len(extra) > 10 else ''}. Delete them first.",
            code="HostedZoneNotEmpty",
        )
    try:
        r53.delete_hosted_zone(Id=zone.zone_id)
    except ClientError as error:
        if error_code(error) == "NoSuchHostedZone":
            return False
        raise
    run_logger().info("Deleted hosted zone %s (%s)", zone.zone_id, zone.name)
    return True
