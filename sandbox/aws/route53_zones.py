"""Route53 hosted zones as real Route53 keeps them: one CallerReference each, own name servers.

Zone ids look like Route53's (``Z0`` and 19 upper-case letters or digits; moto's are 22 random
characters that need not start with ``Z``). Also: distinct change ids with GetChange (PENDING for ``route53_sync_delay`` seconds, then
INSYNC; NoSuchChange for unknown ids), ListHostedZonesByName that lists from the given name
on in Route53's order (not only exact matches), and DeleteHostedZone that refuses any
record other than the zone's own SOA and NS. Tags of a zone that does not exist (or no
longer does) are NoSuchHostedZone, not an empty list.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import string
import time
from collections.abc import Collection
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.route53.exceptions import NoSuchHostedZone
from moto.route53.models import FakeZone, HostedZoneIdentifier, Route53Backend
from moto.route53.responses import Route53

from sandbox.aws.errors import HostedZoneAlreadyExists, HostedZoneNotEmpty, NoSuchChange
from sandbox.aws.hooks import Realism, arguments, extra_state, hook, state_lock
from sandbox.aws.route53_records import normalize_name

_NS_TLDS = ("com", "net", "org", "co.uk")
_ZONE_ID_CHARS = string.ascii_uppercase + string.digits
_NS_TTL = 172800
_SOA_TTL = 900


def name_servers_for(index: int) -> list[str]:
    """Four name servers in four TLDs, as Route53 assigns them; distinct for each index."""
    servers = []
    for position, tld in enumerate(_NS_TLDS):
        number = index % 512 + 512 * position
        servers.append(f"ns-{number}.awsdns-{number // 32:02d}.{tld}")
    return servers


def new_zone_id(existing: Collection[str] = ()) -> str:
    """A hosted zone id as Route53 gives new zones: ``Z0`` then 19 of ``A-Z0-9``."""
    while True:
        zone_id = "Z0" + "".join(secrets.choice(_ZONE_ID_CHARS) for _ in range(19))
        if zone_id not in existing:
            return zone_id


def _around_generate_zone_id(
    realism: Realism,
    original: Any,
    identifier: HostedZoneIdentifier,
    existing_ids: list[str] | None = None,
    tags: Any = None,
) -> str:
    return new_zone_id(existing_ids or ())


def soa_value(primary: str) -> str:
    return f"{primary}. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"


def check_caller_reference_unused(used: set[str], caller_reference: str | None) -> None:
    if caller_reference is not None and caller_reference in used:
        raise HostedZoneAlreadyExists(
            "A hosted zone has already been created with the specified caller reference."
        )


def check_zone_empty(zone: FakeZone) -> None:
    apex = normalize_name(zone.name)
    for rrset in zone.rrsets:
        if normalize_name(rrset.name) == apex and rrset.type in ("SOA", "NS"):
            continue
        raise HostedZoneNotEmpty(
            "The specified hosted zone contains non-required resource record sets and so cannot be deleted."
        )


def give_name_servers(zone: FakeZone, servers: list[str]) -> None:
    """Make the delegation set, the apex NS record set and the SOA agree on ``servers``."""
    assert zone.delegation_set is not None
    zone.delegation_set.name_servers = list(servers)
    apex = normalize_name(zone.name)
    for rrset in zone.rrsets:
        if normalize_name(rrset.name) != apex:
            continue
        rrset.name = apex
        if rrset.type == "NS":
            rrset.ttl, rrset.records = _NS_TTL, [f"{server}." for server in servers]
        elif rrset.type == "SOA":
            rrset.ttl, rrset.records = _SOA_TTL, [soa_value(servers[0])]


def _next_zone_index(backend: Route53Backend) -> int:
    counter = extra_state(backend, "zone_counter", lambda: [0])
    with state_lock():
        counter[0] += 1
        return counter[0] - 1


def _around_create_hosted_zone(
    realism: Realism, original: Any, backend: Route53Backend, *args: Any, **kwargs: Any
) -> FakeZone:
    call = arguments(original, backend, args, kwargs)
    used: set[str] = extra_state(backend, "caller_references", set)
    with state_lock():
        check_caller_reference_unused(used, call.get("caller_reference"))
        zone: FakeZone = original(backend, *args, **kwargs)
        used.add(zone.caller_reference)
    if not call.get("delegation_set_id"):
        give_name_servers(zone, name_servers_for(_next_zone_index(backend)))
    return zone


def _around_delete_hosted_zone(
    realism: Realism, original: Any, backend: Route53Backend, id_: str
) -> Any:
    check_zone_empty(backend.get_hosted_zone(id_))
    return original(backend, id_)


# --- change ids -------------------------------------------------------------------------


def _changes(backend: Route53Backend) -> dict[str, float]:
    return extra_state(backend, "changes", dict)


def _status(realism: Realism, submitted: float) -> str:
    return "INSYNC" if time.monotonic() - submitted >= realism.route53_sync_delay else "PENDING"


def _around_mutation(realism: Realism, original: Any, response: Route53) -> Any:
    """Give each change its own id, so that GetChange can follow it."""
    result = original(response)
    payload = result.result if isinstance(result, ActionResult) else None
    info = payload.get("ChangeInfo") if isinstance(payload, dict) else None
    if isinstance(info, dict):
        changes = _changes(response.backend)
        with state_lock():
            digest = hashlib.sha1(f"{response.backend.account_id}/{len(changes)}".encode())
            change_id = "C" + digest.hexdigest()[:13].upper()
            changes[change_id] = time.monotonic()
        info["Id"] = f"/change/{change_id}"
        info["Status"] = _status(realism, changes[change_id])
    return result


def _get_change(realism: Realism, original: Any, response: Route53) -> ActionResult:
    change_id = str(response._get_param("Id")).rsplit("/", 1)[-1]
    submitted = _changes(response.backend).get(change_id)
    if submitted is None:
        raise NoSuchChange(f"A change with the specified change ID does not exist: {change_id}")
    info = {
        "Id": f"/change/{change_id}",
        "Status": _status(realism, submitted),
        "SubmittedAt": response_time(submitted),
    }
    return ActionResult({"ChangeInfo": info})


def response_time(monotonic_at: float) -> datetime.datetime:
    """The wall-clock time of a moment noted on the monotonic clock."""
    return utcnow() - datetime.timedelta(seconds=time.monotonic() - monotonic_at)


# --- listing by name --------------------------------------------------------------------


def zone_sort_key(name: str) -> tuple[str, ...]:
    return tuple(reversed(normalize_name(name).rstrip(".").split(".")))


def zones_by_name(
    zones: list[FakeZone], dns_name: str | None, zone_id: str | None, max_items: int
) -> tuple[list[FakeZone], FakeZone | None]:
    """One page of ListHostedZonesByName: sorted by reversed labels, then id, from dns_name."""
    ordered = sorted(zones, key=lambda z: (zone_sort_key(z.name), z.resource_id))
    if dns_name:
        start = (zone_sort_key(dns_name), zone_id or "")
        ordered = [z for z in ordered if (zone_sort_key(z.name), z.resource_id) >= start]
    page, rest = ordered[:max_items], ordered[max_items:]
    return page, (rest[0] if rest else None)


def _list_hosted_zones_by_name(realism: Realism, original: Any, response: Route53) -> ActionResult:
    dns_name = response._get_param("DNSName")
    zone_id = response._get_param("HostedZoneId")
    max_items = int(response._get_param("MaxItems") or 100)
    zones = list(response.backend.zones.values())
    page, following = zones_by_name(zones, dns_name, zone_id, max_items)
    result: dict[str, Any] = {
        "HostedZones": page,
        "DNSName": dns_name,
        "HostedZoneId": zone_id,
        "IsTruncated": following is not None,
        "MaxItems": str(max_items),
    }
    if following is not None:
        result["NextDNSName"] = following.name
        result["NextHostedZoneId"] = following.resource_id
    return ActionResult(result)


def check_zone_exists(backend: Route53Backend, resource_type: str, resource_id: str) -> None:
    if resource_type == "hostedzone" and resource_id not in backend.zones:
        raise NoSuchHostedZone(resource_id)


def _around_list_tags(realism: Realism, original: Any, response: Route53) -> Any:
    check_zone_exists(
        response.backend, response._get_param("ResourceType"), response._get_param("ResourceId")
    )
    return original(response)


def install() -> None:
    hook(HostedZoneIdentifier, "generate", _around_generate_zone_id)
    hook(Route53Backend, "create_hosted_zone", _around_create_hosted_zone)
    hook(Route53Backend, "delete_hosted_zone", _around_delete_hosted_zone)
    for name in ("create_hosted_zone", "delete_hosted_zone", "change_resource_record_sets"):
        hook(Route53, name, _around_mutation)
    hook(Route53, "get_change", _get_change)
    hook(Route53, "list_tags_for_resource", _around_list_tags)
    hook(Route53, "list_hosted_zones_by_name", _list_hosted_zones_by_name)
