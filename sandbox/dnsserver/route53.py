"""Reads hosted zones from moto's in-process Route53 backend (``mock_aws`` or moto's server)."""

from __future__ import annotations

from typing import Any

from sandbox.dnsserver.zones import AliasTarget, Record, Zone

# moto gives every zone this delegation set unless a reusable one is used.
_MOTO_DEFAULT_NAME_SERVERS = (
    "ns-2048.awsdns-64.com",
    "ns-2049.awsdns-65.net",
    "ns-2050.awsdns-66.org",
    "ns-2051.awsdns-67.co.uk",
)
_READ_ATTEMPTS = 5


class Route53BackendSource:
    """A ``ZoneSource`` over ``moto.route53.models.route53_backends[account_id][partition]``.

    moto 5.2.5 keys Route53 backends by partition (``"aws"``), not by region; both ``mock_aws``
    and ``ThreadedMotoServer`` in this process share that backend, so this sees either.
    """

    def __init__(self, account_id: str = "123456789012", *, partition: str = "aws") -> None:
        self._account_id = account_id
        self._partition = partition

    def zones(self) -> list[Zone]:
        from moto.route53.models import route53_backends

        backend = route53_backends[self._account_id][self._partition]
        # Another thread (the moto server) may change the zones while we copy them.
        for _ in range(_READ_ATTEMPTS):
            try:
                return [_zone(fake) for fake in list(backend.zones.values())]
            except RuntimeError:
                continue
        return [_zone(fake) for fake in list(backend.zones.values())]


def _zone(fake: Any) -> Zone:
    delegation = getattr(fake, "delegation_set", None)
    name_servers = tuple(getattr(delegation, "name_servers", None) or _MOTO_DEFAULT_NAME_SERVERS)
    records = tuple(_record(rrset) for rrset in list(fake.rrsets))
    return Zone(
        zone_id=str(fake.resource_id),
        name=str(fake.name),
        private=bool(fake.private_zone),
        name_servers=name_servers,
        records=records,
    )


def _record(rrset: Any) -> Record:
    alias = None
    if rrset.alias_target:
        target = rrset.alias_target
        alias = AliasTarget(
            dns_name=str(target.get("DNSName", "")),
            hosted_zone_id=str(target.get("HostedZoneId", "")),
            evaluate_target_health=str(target.get("EvaluateTargetHealth", "false")).lower()
            == "true",
        )
    # moto stores values as plain strings, except the SOA it makes itself ({"Value": ...}).
    values = tuple(
        str(v.get("Value", "")) if isinstance(v, dict) else str(v) for v in rrset.records or []
    )
    ttl = int(rrset.ttl) if rrset.ttl not in (None, "") else 60
    return Record(str(rrset.name), str(rrset.type), ttl, values, alias)
