"""A read-only view of moto's Route53 data: zones, record sets, and what public DNS would answer.

``serving_zone`` walks the public zones the way a resolver walks the DNS tree: it starts at
the top-most zone that contains the name (a zone with no parent zone in Route53 counts as
registered) and follows an NS delegation only when the NS values equal the child zone's own
name servers. So a record in a subdomain zone is visible only once the parent delegates to
that zone, as with real ACM validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moto.route53.models import FakeZone, route53_backends

from sandbox.aws.route53_records import normalize_name


@dataclass(frozen=True)
class ZoneInfo:
    """A hosted zone as the DNS server needs it."""

    zone_id: str
    name: str
    private: bool
    name_servers: tuple[str, ...]


def _zones(account_id: str) -> list[FakeZone]:
    return list(route53_backends[account_id]["aws"].zones.values())


def _labels(name: str) -> int:
    return len(normalize_name(name).rstrip(".").split("."))


def _within(name: str, zone_name: str) -> bool:
    name, zone_name = normalize_name(name), normalize_name(zone_name)
    return name == zone_name or name.endswith("." + zone_name)


def _host(value: str) -> str:
    return value.lower().rstrip(".")


def zones(account_id: str) -> list[ZoneInfo]:
    return [
        ZoneInfo(
            zone_id=zone.resource_id,
            name=normalize_name(zone.name),
            private=bool(zone.private_zone),
            name_servers=tuple(zone.delegation_set.name_servers if zone.delegation_set else ()),
        )
        for zone in _zones(account_id)
    ]


def record_sets(account_id: str, zone_id: str) -> list[dict[str, Any]]:
    """The zone's record sets shaped like boto3's, but with names as DNS names (``*``)."""
    zone = route53_backends[account_id]["aws"].get_hosted_zone(zone_id)
    listed = []
    for rrset in list(zone.rrsets):
        values = [v.get("Value") if isinstance(v, dict) else v for v in rrset.records or []]
        listed.append(
            {
                "Name": normalize_name(rrset.name),
                "Type": rrset.type,
                "TTL": int(rrset.ttl) if rrset.ttl not in (None, "") else None,
                "ResourceRecords": [{"Value": str(value)} for value in values],
                "AliasTarget": dict(rrset.alias_target) if rrset.alias_target else None,
            }
        )
    return listed


def _values(zone: FakeZone, name: str, rtype: str) -> list[str]:
    name = normalize_name(name)
    found = []
    for rrset in list(zone.rrsets):
        if normalize_name(rrset.name) == name and rrset.type == rtype:
            found += [
                str(v.get("Value") if isinstance(v, dict) else v) for v in rrset.records or []
            ]
    return found


def serving_zone(account_id: str, name: str) -> FakeZone | None:
    """The public zone whose name servers a resolver would end up asking about ``name``."""
    containing = [z for z in _zones(account_id) if not z.private_zone and _within(name, z.name)]
    if not containing:
        return None
    zone = min(containing, key=lambda z: _labels(z.name))
    while True:
        cuts = [
            rrset
            for rrset in list(zone.rrsets)
            if rrset.type == "NS"
            and normalize_name(rrset.name) != normalize_name(zone.name)
            and _within(name, rrset.name)
        ]
        if not cuts:
            return zone
        cut = min(cuts, key=lambda rrset: _labels(rrset.name))
        servers = {_host(str(v)) for v in cut.records or []}
        children = [
            z
            for z in containing
            if normalize_name(z.name) == normalize_name(cut.name)
            and z.delegation_set is not None
            and {_host(ns) for ns in z.delegation_set.name_servers} == servers
        ]
        if not children:
            return None  # a lame delegation: nothing answers below the cut
        zone = children[0]


def is_visible(account_id: str, name: str, rtype: str, value: str) -> bool:
    """True when public DNS would answer ``name``/``rtype`` with ``value``."""
    zone = serving_zone(account_id, name)
    if zone is None:
        return False
    return _host(value) in {_host(v) for v in _values(zone, name, rtype)}
