"""The subdomain's NS delegation in the root zone: observe, UPSERT when it differs, delete."""

from __future__ import annotations

from core.errors import OwnershipError
from core.resources import ChangeResult, HostedZoneState, RecordChange, RecordSetState
from core.settings import Settings, get_settings
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import aws_task
from tasks.aws.route53_records import apply_changes, read_record

#: TTL of the NS delegation in the root zone: short, so a re-created subdomain zone recovers fast.
DELEGATION_TTL = 300


def delegation_record(zone: HostedZoneState) -> RecordSetState:
    """The NS record set that delegates the subdomain to its zone."""
    return RecordSetState(name=zone.name, type="NS", ttl=DELEGATION_TTL, values=zone.name_servers)


@aws_task
def ensure_delegation(
    ctx: AwsContext, root_zone_id: str, zone: HostedZoneState, *, settings: Settings | None = None
) -> ChangeResult:
    """Delegate the subdomain: UPSERT its NS set in the root zone when it differs, wait INSYNC."""
    change = RecordChange(action="UPSERT", record=delegation_record(zone))
    return apply_changes(ctx, root_zone_id, [change], settings=settings or get_settings())


@aws_task
def observe_delegation(ctx: AwsContext, root_zone_id: str, zone_name: str) -> RecordSetState | None:
    """Read the subdomain's NS record set in the root zone; nothing when there is none."""
    return read_record(client(ctx, "route53"), root_zone_id, zone_name, "NS")


@aws_task
def delete_delegation(
    ctx: AwsContext, root_zone_id: str, zone: HostedZoneState, *, settings: Settings | None = None
) -> bool:
    """Remove the subdomain's NS delegation from the root zone; False when it is already gone.

    Refuses when the NS set points elsewhere than this zone's name servers.
    """
    current = read_record(client(ctx, "route53"), root_zone_id, zone.name, "NS")
    if current is None:
        return False
    if not current.same_as(current.model_copy(update={"values": zone.name_servers})):
        raise OwnershipError(
            f"The NS record of {zone.name} in zone {root_zone_id} points to "
            f"{', '.join(current.values)}, not to zone {zone.zone_id}; it is left as it is."
        )
    change = RecordChange(action="DELETE", record=current)
    return apply_changes(ctx, root_zone_id, [change], settings=settings or get_settings()).changed
