"""DNS propagation delay: a record set change is served only some seconds after it first appears."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from sandbox.dnsserver.zones import Record, Zone

_Key = tuple[str, str, str]  # (zone id, name, type)


@dataclass
class _Version:
    record: Record
    signature: tuple[object, ...]
    first_seen: float
    # What the name servers still serve while this version propagates (None: nothing yet).
    previous: Record | None


class PropagationTracker:
    """Turns the zones of a source into the zones the name servers serve at a given moment.

    A new or changed record set becomes visible ``delay`` seconds after this tracker first sees
    it; until then the previous version (if any was visible) is served, as Route53's servers
    do while a change propagates. Deletions are visible at once. Everything present at the
    first observation counts as long propagated (the world existed before the sandbox started),
    and so do a zone's own SOA and NS records at its apex.
    """

    def __init__(self, delay: float, clock: Callable[[], float]) -> None:
        self._delay = delay
        self._clock = clock
        self._versions: dict[_Key, _Version] = {}
        self._lock = threading.Lock()
        self._started = False

    def visible(self, zones: list[Zone]) -> list[Zone]:
        """Observe ``zones`` (normalised) now and return what the name servers serve."""
        now = self._clock()
        with self._lock:
            first = not self._started
            self._started = True
            seen: set[_Key] = set()
            served = [self._serve_zone(zone, now, first, seen) for zone in zones]
            for gone in set(self._versions) - seen:
                del self._versions[gone]
        return served

    def _serve_zone(self, zone: Zone, now: float, first: bool, seen: set[_Key]) -> Zone:
        if self._delay <= 0:
            return zone
        records: list[Record] = []
        for record in zone.records:
            if record.name == zone.name and record.type in ("SOA", "NS"):
                records.append(record)
                continue
            key = (zone.zone_id, record.name, record.type)
            seen.add(key)
            version = self._track(key, record, now, first)
            shown = record if now - version.first_seen >= self._delay else version.previous
            if shown is not None:
                records.append(shown)
        return Zone(zone.zone_id, zone.name, zone.private, zone.name_servers, tuple(records))

    def _track(self, key: _Key, record: Record, now: float, first: bool) -> _Version:
        signature = record.signature()
        version = self._versions.get(key)
        if version is not None and version.signature == signature:
            return version
        if version is None:
            previous = None
        elif now - version.first_seen >= self._delay:
            previous = version.record
        else:
            previous = version.previous
        first_seen = float("-inf") if first else now
        version = _Version(record, signature, first_seen, previous)
        self._versions[key] = version
        return version
