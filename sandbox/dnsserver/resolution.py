"""Answers DNS queries from hosted zones the way the public DNS tree would, delegation included."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.dnsserver.answers import REFUSED, RR, SERVFAIL, Answer, Rcode
from sandbox.dnsserver.zones import (
    Record,
    Zone,
    absolute,
    ancestors,
    is_subdomain,
    name_server_set,
)

logger = logging.getLogger(__name__)

MAX_CHAIN = 8  # CNAME / alias hops before giving up, as resolvers bound chains
ELB_SUFFIX = ".elb.amazonaws.com."
ALB_TTL = 60
_ELB_SOA = RR(
    "elb.amazonaws.com.",
    "SOA",
    60,
    "ns-1119.awsdns-11.org. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 60",
)
_Step = tuple[Answer, str | None]  # an answer, and the CNAME target still to follow


@dataclass
class _IndexedZone:
    zone: Zone
    rrsets: dict[str, dict[str, Record]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)  # owner names and empty non-terminals

    def __post_init__(self) -> None:
        self.names.add(self.zone.name)
        for record in self.zone.records:
            if not is_subdomain(record.name, self.zone.name):
                continue
            self.rrsets.setdefault(record.name, {})[record.type] = record
            self.names.add(record.name)
            self.names.update(ancestors(record.name, self.zone.name))
        # Every hosted zone has SOA and NS at its apex (Route53 makes them); fill in if missing.
        apex = self.rrsets.setdefault(self.name, {})
        if "SOA" not in apex:
            soa = self.soa()
            apex["SOA"] = Record(self.name, "SOA", soa.ttl, (soa.value,))
        if "NS" not in apex and self.zone.name_servers:
            apex["NS"] = Record(self.name, "NS", 172800, tuple(self.zone.name_servers))

    @property
    def name(self) -> str:
        return self.zone.name

    def soa(self) -> RR:
        soa = self.rrsets.get(self.name, {}).get("SOA")
        if soa is not None and soa.values:
            return RR(self.name, "SOA", soa.ttl, soa.values[0])
        primary = self.zone.name_servers[0] if self.zone.name_servers else "ns." + self.name
        value = f"{primary} awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"
        return RR(self.name, "SOA", 900, value)

    def cut(self, name: str) -> str | None:
        """The highest delegation point (NS below the apex) between the apex and ``name``."""
        if name == self.name:
            return None
        for candidate in [*ancestors(name, self.name), name]:
            if "NS" in self.rrsets.get(candidate, {}):
                return candidate
        return None

    def negative(self, rcode: Rcode) -> Answer:
        return Answer(rcode, (), (self.soa(),), True)


_LAME = object()  # a delegation whose NS records match no hosted zone's name servers


class DnsView:
    """The DNS as it stands at one moment, built from the zones the name servers serve.

    ``resolve`` is what a recursive resolver returns: it starts at the top zones (those with no
    parent zone among the hosted ones, as if the registrar delegated them) and follows NS records
    down, so a zone is reached only while its parent delegates to exactly its name servers.
    ``resolve_at`` is what one zone's authoritative servers return (referrals included).
    """

    def __init__(
        self,
        zones: list[Zone],
        *,
        alb_exists: Callable[[str], bool],
        alb_address: str | Callable[[str], str],
        ns_address: str = "127.0.0.1",
    ) -> None:
        self._zones = [_IndexedZone(z) for z in zones]
        self._public = [z for z in self._zones if not z.zone.private]
        names = {z.name for z in self._public}
        # A top zone has no hosted ancestor: its name's proper suffixes looked up in a set, not
        # every zone's name compared with every other's (a query builds a view: with hundreds
        # of zones that was the DNS server's costliest line).
        self._tops = [z for z in self._public if not any(n in names for n in _parents(z.name))]
        self._alb_exists = alb_exists
        self._alb_address = alb_address
        # The hosted zones' name servers are all played by this server, so their names resolve
        # to its address: a client may look them up before asking them, as resolvers do.
        self._ns_address = ns_address
        self._ns_names = {ns for z in self._public for ns in z.zone.name_servers}

    def resolve(self, qname: str, qtype: str, *, _depth: int = 0) -> Answer:
        """Resolve like a recursive resolver, following CNAME chains across zones."""
        name, rtype = absolute(qname), qtype.upper()
        chain: list[RR] = []
        seen = {name}
        first: Answer | None = None
        for _ in range(MAX_CHAIN):
            answer, target = self._resolve_name(name, rtype, _depth)
            first = first or answer
            if target is None:
                answer_rrs = (*chain, *answer.answer)
                return Answer(answer.rcode, answer_rrs, answer.authority, first.authoritative)
            chain.extend(answer.answer)
            if target in seen:
                logger.warning("CNAME loop at %s", target)
                return SERVFAIL
            seen.add(target)
            name = target
        return SERVFAIL

    def resolve_at(self, qname: str, qtype: str, zone: str) -> Answer:
        """Answer as the authoritative servers of one hosted zone (given by id or name) would."""
        hosted = self._find_zone(zone)
        name, rtype = absolute(qname), qtype.upper()
        if hosted is None or not is_subdomain(name, hosted.name):
            return REFUSED
        cut = hosted.cut(name)
        if cut is not None and not (cut == name and rtype == "DS"):
            ns = hosted.rrsets[cut]["NS"]
            return Answer(Rcode.NOERROR, (), tuple(RR(cut, "NS", ns.ttl, v) for v in ns.values))
        answer, _ = self._from_zone(hosted, name, rtype, 0)
        return answer

    def elb_target(self, qname: str) -> str | None:
        """The ELB DNS name (no ``dualstack.``, no trailing dot) that ``qname`` leads to, if any.

        Follows aliases and CNAMEs through the delegated tree, whether or not the ELB exists.
        """
        name = absolute(qname)
        for _ in range(MAX_CHAIN):
            if name.endswith(ELB_SUFFIX):
                return name.rstrip(".").removeprefix("dualstack.")
            zone = self._serving_zone(name)
            if not isinstance(zone, _IndexedZone):
                return None
            rrsets = zone.rrsets.get(name)
            if rrsets is None and name not in zone.names:
                rrsets = self._wildcard(zone, name)
            address, cname = (rrsets or {}).get("A"), (rrsets or {}).get("CNAME")
            if address is not None and address.alias is not None:
                name = absolute(address.alias.dns_name)
            elif cname is not None and cname.values:
                name = cname.values[0]
            else:
                return None
        return None

    def _find_zone(self, ref: str) -> _IndexedZone | None:
        zone_id = ref.rsplit("/", 1)[-1]
        for hosted in self._zones:
            if hosted.zone.zone_id == zone_id:
                return hosted
        wanted = absolute(ref)
        named = [z for z in self._zones if z.name == wanted]
        named.sort(key=lambda z: z.zone.private)
        return named[0] if named else None

    def _resolve_name(self, name: str, rtype: str, depth: int) -> _Step:
        if name.endswith(ELB_SUFFIX):
            return self._elb(name, rtype), None
        zone = self._serving_zone(name)
        if zone is None and name in self._ns_names:
            rrs = (RR(name, "A", 172800, self._ns_address),) if rtype == "A" else ()
            return Answer(Rcode.NOERROR, rrs, (), True), None
        if zone is None:
            return Answer(Rcode.NXDOMAIN), None
        if not isinstance(zone, _IndexedZone):
            logger.info("lame delegation on the way to %s", name)
            return SERVFAIL, None
        return self._from_zone(zone, name, rtype, depth)

    def _serving_zone(self, name: str) -> _IndexedZone | object | None:
        current = next((z for z in self._tops if is_subdomain(name, z.name)), None)
        while current is not None:
            cut = current.cut(name)
            if cut is None:
                return current
            wanted = name_server_set(current.rrsets[cut]["NS"].values)
            child = next(
                (
                    z
                    for z in self._public
                    if z.name == cut and name_server_set(z.zone.name_servers) == wanted
                ),
                None,
            )
            if child is None:
                return _LAME
            current = child
        return None

    def _from_zone(self, zone: _IndexedZone, name: str, rtype: str, depth: int) -> _Step:
        rrsets = zone.rrsets.get(name)
        if rrsets is None:
            if name in zone.names:
                return zone.negative(Rcode.NOERROR), None  # empty non-terminal
            rrsets = self._wildcard(zone, name)
            if rrsets is None:
                return zone.negative(Rcode.NXDOMAIN), None
        if rtype in rrsets:
            record = rrsets[rtype]
            if record.alias is not None:
                return self._alias(zone, name, record, depth), None
            rrs = tuple(RR(name, rtype, record.ttl, v) for v in record.values)
            return Answer(Rcode.NOERROR, rrs, (), True), None
        cname = rrsets.get("CNAME")
        if cname is not None and cname.values:
            target = cname.values[0]
            return Answer(Rcode.NOERROR, (RR(name, "CNAME", cname.ttl, target),), (), True), target
        if rtype == "ANY":
            rrs = tuple(RR(name, r.type, r.ttl, v) for r in rrsets.values() for v in r.values)
            return Answer(Rcode.NOERROR, rrs, (), True), None
        return zone.negative(Rcode.NOERROR), None

    @staticmethod
    def _wildcard(zone: _IndexedZone, name: str) -> dict[str, Record] | None:
        """RFC 4592: the wildcard at the closest encloser answers for names that do not exist."""
        for encloser in [*reversed(ancestors(name, zone.name)), zone.name]:
            if encloser in zone.names:
                return zone.rrsets.get("*." + encloser)
        return None

    def _alias(self, zone: _IndexedZone, name: str, record: Record, depth: int) -> Answer:
        assert record.alias is not None
        target = absolute(record.alias.dns_name)
        if depth >= MAX_CHAIN:
            return SERVFAIL
        resolved = self.resolve(target, record.type, _depth=depth + 1)
        rrs = tuple(
            RR(name, rr.type, rr.ttl, rr.value) for rr in resolved.answer if rr.type == record.type
        )
        if not rrs:
            # Route53 answers NODATA when the alias target has no such record (e.g. ALB gone).
            return zone.negative(Rcode.NOERROR)
        return Answer(Rcode.NOERROR, rrs, (), True)

    def _elb(self, name: str, rtype: str) -> Answer:
        bare = name.rstrip(".")
        bare = bare.removeprefix("dualstack.")
        try:
            exists = self._alb_exists(bare)
        except Exception:
            logger.exception("alb_exists(%r) failed", bare)
            return SERVFAIL
        if not exists:
            return Answer(Rcode.NXDOMAIN, (), (_ELB_SOA,), True)
        if rtype == "A":
            given = self._alb_address
            address = given if isinstance(given, str) else given(bare)  # each ALB its own
            return Answer(Rcode.NOERROR, (RR(name, "A", ALB_TTL, address),), (), True)
        return Answer(Rcode.NOERROR, (), (_ELB_SOA,), True)


def _parents(name: str) -> list[str]:
    """The proper suffixes of `name` that start after one of its dots: b.c. and c. of a.b.c."""
    return [name[i + 1 :] for i, char in enumerate(name) if char == "." and i + 1 < len(name)]
