"""The subdomain's hosted zone (and the root zone it is delegated from, read with it)."""

from __future__ import annotations

from typing import Any

from core.dnsnames import normalise
from core.errors import OwnershipError
from core.resources import HostedZoneState
from core.state import Kind
from tasks.aws.route53 import delete_hosted_zone, ensure_hosted_zone
from tasks.aws.route53 import observe_hosted_zone as read_zone
from tasks.aws.route53_records import observe_zone_records
from tasks.concurrent import together
from tasks.kinds.base import Env, Got, Look, Verbs, recorded_in
from tasks.kinds.root_zone import RootZone


def observe(look: Look) -> dict[str, Any]:
    """The root zone (in its own account, with rootDomain.roleArn) and the subdomain's zone with
    its records: the zone is ours and small, one listing serves all of them."""
    spec, ctx = look.spec, look.ctx
    # Cleanup looks a recorded root zone that is gone (re-created) up again by name.
    again = look.sweeping

    def root() -> HostedZoneState | None:
        return RootZone.of(ctx, spec, look.found).find(look.record, by_name_when_gone=again)

    recorded = recorded_in(look, Kind.HOSTED_ZONE).get(normalise(spec.subdomain))
    root_zone, zone = together([root, lambda: read_zone.fn(ctx, spec, recorded=recorded)])
    records = observe_zone_records.fn(ctx, zone.zone_id) if zone is not None else {}
    return {"root_zone": root_zone, "zone": zone, "zone_records": tuple(records.values())}


def current(env: Env) -> HostedZoneState | None:
    return env.seen.zone


def ensure(env: Env, got: Got) -> HostedZoneState:
    zone: HostedZoneState = ensure_hosted_zone.fn(env.ctx, env.spec)
    return zone


def delete(env: Env) -> str:
    zone = env.seen.zone
    if zone is None:
        return ""
    if not zone.owned:
        return f"left hosted zone {zone.zone_id} ({zone.name}): adopted, not the stack's"
    try:
        deleted = delete_hosted_zone.fn(env.ctx, env.spec, zone_id=zone.zone_id)
    except OwnershipError as error:
        return f"left: {error.message}"
    return f"deleted hosted zone {zone.zone_id} ({zone.name})" if deleted else ""


VERBS = Verbs(observe=observe, current=current, ensure=ensure, delete=delete)
