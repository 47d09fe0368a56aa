"""Tests of the DNS propagation delay, stepped with a fake clock (no sleeping, no timing)."""

from __future__ import annotations

import pytest

from sandbox.dns import DnsServer, Record, StaticZoneSource, Zone

DELAY = 30.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _source() -> StaticZoneSource:
    root = Zone(
        "ZR",
        "example.com",
        False,
        ["ns-1.r.test"],
        [Record("old.example.com", "A", 60, ["192.0.2.1"])],
    )
    sub = Zone(
        "ZS",
        "sub.example.com",
        False,
        ["ns-1.s.test"],
        [Record("kubeflow.sub.example.com", "A", 60, ["192.0.2.9"])],
    )
    return StaticZoneSource([root, sub])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def source() -> StaticZoneSource:
    return _source()


@pytest.fixture
def dns(source: StaticZoneSource, clock: FakeClock) -> DnsServer:
    server = DnsServer(source, propagation_delay=DELAY, clock=clock)
    assert server.lookup("old.example.com") == ["192.0.2.1"]  # first look: all long propagated
    return server


def test_new_record_appears_after_the_delay(
    dns: DnsServer, source: StaticZoneSource, clock: FakeClock
) -> None:
    source.upsert("ZR", Record("new.example.com", "A", 60, ["192.0.2.2"]))
    assert dns.lookup("new.example.com") == []
    clock.now += DELAY - 1
    assert dns.lookup("new.example.com") == []
    clock.now += 1
    assert dns.lookup("new.example.com") == ["192.0.2.2"]


def test_changed_record_serves_the_old_value_meanwhile(
    dns: DnsServer, source: StaticZoneSource, clock: FakeClock
) -> None:
    source.upsert("ZR", Record("old.example.com", "A", 60, ["192.0.2.3"]))
    assert dns.lookup("old.example.com") == ["192.0.2.1"]
    clock.now += DELAY / 2
    # A second change restarts the clock, and the first change never becomes visible.
    source.upsert("ZR", Record("old.example.com", "A", 60, ["192.0.2.4"]))
    assert dns.lookup("old.example.com") == ["192.0.2.1"]
    clock.now += DELAY / 2
    assert dns.lookup("old.example.com") == ["192.0.2.1"]
    clock.now += DELAY / 2
    assert dns.lookup("old.example.com") == ["192.0.2.4"]


def test_deletion_is_visible_at_once(dns: DnsServer, source: StaticZoneSource) -> None:
    source.delete("ZR", "old.example.com", "A")
    assert dns.resolve("old.example.com", "A").rcode == 3


def test_delegation_propagates_too(
    dns: DnsServer, source: StaticZoneSource, clock: FakeClock
) -> None:
    source.upsert("ZR", Record("sub.example.com", "NS", 300, ["ns-1.s.test"]))
    assert dns.lookup("kubeflow.sub.example.com") == []
    clock.now += DELAY
    assert dns.lookup("kubeflow.sub.example.com") == ["192.0.2.9"]


def test_new_zone_apex_records_need_no_propagation(
    dns: DnsServer, source: StaticZoneSource
) -> None:
    source.put_zone(
        Zone(
            "ZN",
            "fresh.org",
            False,
            ["ns-1.f.test"],
            [Record("fresh.org", "SOA", 900, ["ns-1.f.test. h.fresh.org. 1 2 3 4 5"])],
        )
    )
    assert dns.lookup("fresh.org", "SOA") == ["ns-1.f.test. h.fresh.org. 1 2 3 4 5"]
    assert dns.lookup("fresh.org", "NS") == ["ns-1.f.test."]


def test_the_clock_starts_when_the_change_is_first_seen(
    source: StaticZoneSource, clock: FakeClock
) -> None:
    dns = DnsServer(source, propagation_delay=DELAY, clock=clock)
    dns.resolve("old.example.com", "A")
    source.upsert("ZR", Record("new.example.com", "A", 60, ["192.0.2.2"]))
    clock.now += DELAY  # nobody looked in between: the server first sees it now
    assert dns.lookup("new.example.com") == []
    clock.now += DELAY
    assert dns.lookup("new.example.com") == ["192.0.2.2"]
