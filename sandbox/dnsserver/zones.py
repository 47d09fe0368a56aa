"""Hosted-zone data the sandbox DNS server answers from, and the protocol that supplies it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

# Record types whose values are domain names, written absolute so they never pick up an origin.
_NAME_VALUED = frozenset({"CNAME", "NS", "PTR", "DNAME"})
_LAST_TOKEN_NAME_VALUED = frozenset({"MX", "SRV"})
_OCTAL_ESCAPE = re.compile(r"\\(\d{3})")


def absolute(name: str) -> str:
    """Lower-case, absolute (trailing dot) form of a domain name; Route53's ``\\052`` becomes ``*``."""
    text = _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), name.strip()).lower()
    return text if text.endswith(".") else text + "."


def is_subdomain(name: str, parent: str) -> bool:
    """Whether absolute ``name`` equals or lies under absolute ``parent``."""
    return parent == "." or name == parent or name.endswith("." + parent)


def ancestors(name: str, apex: str) -> list[str]:
    """Names strictly between ``apex`` and ``name`` (exclusive), from the top down."""
    labels = name[: -len(apex)].rstrip(".").split(".") if name != apex else []
    return [".".join(labels[i:]) + "." + apex for i in range(len(labels) - 1, 0, -1)]


def name_server_set(values: Iterable[str]) -> frozenset[str]:
    """Name servers compared as the DNS does: case-insensitively, trailing dot optional."""
    return frozenset(absolute(v) for v in values)


@dataclass(frozen=True)
class AliasTarget:
    """A Route53 alias: the record answers with the target's addresses."""

    dns_name: str
    hosted_zone_id: str = ""
    evaluate_target_health: bool = False


@dataclass(frozen=True)
class Record:
    """One record set. ``values`` are in zone-file text (TXT values keep their quotes)."""

    name: str
    type: str
    ttl: int = 300
    values: Sequence[str] = ()
    alias: AliasTarget | None = None

    def normalised(self) -> Record:
        rtype = self.type.upper()
        values = tuple(_normalise_value(rtype, v) for v in self.values)
        return Record(absolute(self.name), rtype, int(self.ttl), values, self.alias)

    def signature(self) -> tuple[object, ...]:
        """What a change to this record set changes: TTL, values (as a set) and alias."""
        return (self.ttl, frozenset(self.values), self.alias)


@dataclass(frozen=True)
class Zone:
    """A hosted zone. ``name`` is absolute; ``name_servers`` is the zone's delegation set."""

    zone_id: str
    name: str
    private: bool = False
    name_servers: Sequence[str] = ()
    records: Sequence[Record] = field(default_factory=tuple)

    def normalised(self) -> Zone:
        """Canonical names and values, one record set per (name, type): duplicates are merged."""
        merged: dict[tuple[str, str], Record] = {}
        for raw in self.records:
            rec = raw.normalised()
            key = (rec.name, rec.type)
            if key in merged:
                old = merged[key]
                values = tuple(dict.fromkeys((*old.values, *rec.values)))
                rec = Record(rec.name, rec.type, old.ttl, values, old.alias or rec.alias)
            merged[key] = rec
        return Zone(
            self.zone_id,
            absolute(self.name),
            self.private,
            tuple(absolute(ns) for ns in self.name_servers),
            tuple(merged.values()),
        )


@runtime_checkable
class ZoneSource(Protocol):
    """Supplies the current hosted zones (e.g. moto's Route53 backend); called on every query."""

    def zones(self) -> list[Zone]: ...


class StaticZoneSource:
    """Zones held in memory: for tests, and for DNS outside Route53 (e.g. a registrar's zone)."""

    def __init__(self, zones: Iterable[Zone] = ()) -> None:
        self._zones: dict[str, Zone] = {z.zone_id: z for z in zones}

    def zones(self) -> list[Zone]:
        return list(self._zones.values())

    def put_zone(self, zone: Zone) -> None:
        self._zones[zone.zone_id] = zone

    def remove_zone(self, zone_id: str) -> None:
        self._zones.pop(zone_id, None)

    def upsert(self, zone_id: str, record: Record) -> None:
        """Replace the record set with the same name and type, as a Route53 UPSERT does."""
        zone = self._zones[zone_id]
        key = (absolute(record.name), record.type.upper())
        kept = [r for r in zone.records if (absolute(r.name), r.type.upper()) != key]
        self._zones[zone_id] = _replace_records(zone, [*kept, record])

    def delete(self, zone_id: str, name: str, rtype: str) -> None:
        zone = self._zones[zone_id]
        key = (absolute(name), rtype.upper())
        kept = [r for r in zone.records if (absolute(r.name), r.type.upper()) != key]
        self._zones[zone_id] = _replace_records(zone, kept)


class CombinedZoneSource:
    """The zones of several sources together (e.g. moto's Route53 plus a registrar's zone)."""

    def __init__(self, *sources: ZoneSource) -> None:
        self._sources = sources

    def zones(self) -> list[Zone]:
        return [zone for source in self._sources for zone in source.zones()]


def _replace_records(zone: Zone, records: list[Record]) -> Zone:
    return Zone(zone.zone_id, zone.name, zone.private, zone.name_servers, tuple(records))


def _normalise_value(rtype: str, value: str) -> str:
    text = value.strip()
    if rtype in _NAME_VALUED:
        return absolute(text)
    if rtype in _LAST_TOKEN_NAME_VALUED:
        head, _, target = text.rpartition(" ")
        return f"{head} {absolute(target)}".strip()
    if rtype == "SOA":
        parts = text.split()
        if len(parts) == 7:
            return " ".join([absolute(parts[0]), absolute(parts[1]), *parts[2:]])
    return text
