"""A DNS provider outside Route53 (a registrar's zone) serving the root domain in the sandbox."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from sandbox.aws.seed import UNRELATED_RECORD
from sandbox.dnsserver.zones import Record, StaticZoneSource, Zone, absolute, is_subdomain

#: Not Route53's name servers, so a delegation copied from the wrong zone shows as lame.
EXTERNAL_NAME_SERVERS = ("ns1.registrar-dns.test", "ns2.registrar-dns.test")


class ExternalDns:
    """The root domain's zone at a DNS provider that is not Route53.

    The sandbox DNS server reads `source` next to Route53, so records added here are served
    (after the world's propagation delay) and the subdomain zone is reached only once the NS
    records delegating it are added here, as a person would at their registrar.

    Args:
        domain: the root domain, e.g. example.com.
        name_servers: the provider's name servers for the zone.
    """

    def __init__(self, domain: str, *, name_servers: Sequence[str] = EXTERNAL_NAME_SERVERS) -> None:
        self.domain = absolute(domain)
        self.zone_id = "external-" + self.domain.rstrip(".").replace(".", "-")
        label, rtype, value = UNRELATED_RECORD
        zone = Zone(
            self.zone_id,
            self.domain,
            False,
            tuple(name_servers),
            (Record(f"{label}.{self.domain}", rtype, 300, (value,)),),
        )
        self.source = StaticZoneSource([zone])
        self._lock = threading.Lock()

    @property
    def name_servers(self) -> tuple[str, ...]:
        return tuple(self._zone().name_servers)

    def add_record(self, name: str, rtype: str, values: Iterable[str], *, ttl: int = 300) -> None:
        """Create or replace the record set `name`/`rtype` (full names, under the domain)."""
        record = Record(self._inside(name), rtype.upper(), ttl, tuple(values))
        with self._lock:
            self.source.upsert(self.zone_id, record)

    def remove_record(self, name: str, rtype: str) -> None:
        """Delete the record set `name`/`rtype`, if present."""
        with self._lock:
            self.source.delete(self.zone_id, self._inside(name), rtype.upper())

    def records(self) -> list[Record]:
        """The zone's record sets as they are now (normalised names and values)."""
        return list(self._zone().normalised().records)

    def _zone(self) -> Zone:
        return self.source.zones()[0]

    def _inside(self, name: str) -> str:
        full = absolute(name)
        if not is_subdomain(full, self.domain):
            raise ValueError(f"{name!r} is not within {self.domain}")
        return full
