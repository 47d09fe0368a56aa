"""Tests of the sandbox DNS resolution logic (delegation, CNAME, alias, wildcard, negatives)."""

from __future__ import annotations

import pytest

from sandbox.dns import (
    AliasTarget,
    CombinedZoneSource,
    DnsServer,
    Rcode,
    Record,
    StaticZoneSource,
    Zone,
)

ROOT_NS = ["ns-1.root-dns.test", "ns-2.root-dns.test"]
SUB_NS = ["ns-7.sub-dns.test", "ns-8.sub-dns.test"]
ALB = "k8s-istiosys-kubeflow-0123456789.us-east-1.elb.amazonaws.com"


def _a(name: str, *values: str, ttl: int = 60) -> Record:
    return Record(name, "A", ttl, list(values))


def _world() -> StaticZoneSource:
    root = Zone(
        "ZROOT",
        "example.com.",
        False,
        ROOT_NS,
        [
            _a("www.example.com", "192.0.2.10"),
            Record("c1.example.com", "CNAME", 60, ["c2.example.com"]),
            Record("c2.example.com", "CNAME", 60, ["www.example.com."]),
            Record("loop1.example.com", "CNAME", 60, ["loop2.example.com"]),
            Record("loop2.example.com", "CNAME", 60, ["loop1.example.com"]),
            Record("into-sub.example.com", "CNAME", 60, ["exact.sub.example.com"]),
            Record("apex-alias.example.com", "A", 0, [], AliasTarget("www.example.com")),
            Record("txt.example.com", "TXT", 60, ['"hello world"']),
        ],
    )
    sub = Zone(
        "ZSUB",
        "sub.example.com",
        False,
        SUB_NS,
        [
            Record(
                "*.sub.example.com", "A", 0, [], AliasTarget(f"dualstack.{ALB}", "Z35SXDOTRQ7X7K")
            ),
            _a("exact.sub.example.com", "192.0.2.20"),
            Record("deep.x.sub.example.com", "TXT", 60, ['"deep"']),
        ],
    )
    return StaticZoneSource([root, sub])


def _delegate(world: StaticZoneSource, values: list[str]) -> None:
    world.upsert("ZROOT", Record("sub.example.com", "NS", 300, values))


@pytest.fixture
def world() -> StaticZoneSource:
    return _world()


@pytest.fixture
def dns(world: StaticZoneSource) -> DnsServer:
    return DnsServer(world)  # in-process answers need no sockets


def test_undelegated_subdomain_answers_as_its_parent(dns: DnsServer) -> None:
    answer = dns.resolve("kubeflow.sub.example.com", "A")
    assert answer.rcode == Rcode.NXDOMAIN
    assert [(rr.name, rr.type) for rr in answer.authority] == [("example.com.", "SOA")]
    assert dns.lookup("exact.sub.example.com") == []


def test_delegation_makes_the_subdomain_resolve(dns: DnsServer, world: StaticZoneSource) -> None:
    # Case and trailing dots do not matter when comparing name server sets.
    _delegate(world, ["NS-8.SUB-DNS.TEST.", "ns-7.sub-dns.test"])
    assert dns.lookup("kubeflow.sub.example.com") == ["127.0.0.1"]
    assert dns.lookup("exact.sub.example.com") == ["192.0.2.20"]
    assert sorted(dns.lookup("sub.example.com", "NS")) == [
        "ns-7.sub-dns.test.",
        "ns-8.sub-dns.test.",
    ]
    world.delete("ZROOT", "sub.example.com", "NS")
    assert dns.lookup("exact.sub.example.com") == []


@pytest.mark.parametrize(
    "values",
    [
        ["ns-7.sub-dns.test"],
        ["ns-7.sub-dns.test", "ns-8.sub-dns.test", "ns-9.sub-dns.test"],
        ROOT_NS,
    ],
)
def test_wrong_name_servers_are_not_a_delegation(
    dns: DnsServer, world: StaticZoneSource, values: list[str]
) -> None:
    _delegate(world, values)
    assert dns.resolve("exact.sub.example.com", "A").rcode == Rcode.SERVFAIL  # lame delegation
    assert dns.lookup("exact.sub.example.com") == []
    assert dns.lookup("www.example.com") == ["192.0.2.10"]


def test_authoritative_view_of_each_zone(dns: DnsServer, world: StaticZoneSource) -> None:
    # The subdomain's own servers answer even before the parent delegates to them.
    at_sub = dns.resolve_at("kubeflow.sub.example.com", "A", "ZSUB")
    assert at_sub.authoritative
    assert at_sub.values("A") == ["127.0.0.1"]
    before = dns.resolve_at("sub.example.com", "NS", "example.com")
    assert before.rcode == Rcode.NXDOMAIN
    _delegate(world, SUB_NS)
    referral = dns.resolve_at("anything.sub.example.com", "A", "/hostedzone/ZROOT")
    assert referral.is_referral
    assert not referral.authoritative
    assert sorted(rr.value for rr in referral.authority) == [ns + "." for ns in SUB_NS]
    assert dns.resolve_at("www.other.org", "A", "ZROOT").rcode == Rcode.REFUSED
    assert dns.resolve_at("www.example.com", "A", "ZNOPE").rcode == Rcode.REFUSED


def test_cname_chain_is_followed_and_reported(dns: DnsServer) -> None:
    answer = dns.resolve("c1.example.com", "A")
    assert [(rr.name, rr.type, rr.value) for rr in answer.answer] == [
        ("c1.example.com.", "CNAME", "c2.example.com."),
        ("c2.example.com.", "CNAME", "www.example.com."),
        ("www.example.com.", "A", "192.0.2.10"),
    ]
    assert dns.lookup("c1.example.com") == ["192.0.2.10"]
    assert dns.lookup("c1.example.com", "CNAME") == ["c2.example.com."]


def test_cname_across_a_delegation(dns: DnsServer, world: StaticZoneSource) -> None:
    dangling = dns.resolve("into-sub.example.com", "A")
    assert dangling.rcode == Rcode.NXDOMAIN
    assert dangling.values("CNAME")
    _delegate(world, SUB_NS)
    assert dns.lookup("into-sub.example.com") == ["192.0.2.20"]


def test_cname_loop_fails(dns: DnsServer) -> None:
    assert dns.resolve("loop1.example.com", "A").rcode == Rcode.SERVFAIL


def test_alias_to_a_record_in_the_data(dns: DnsServer) -> None:
    answer = dns.resolve("apex-alias.example.com", "A")
    assert [(rr.name, rr.value) for rr in answer.answer] == [
        ("apex-alias.example.com.", "192.0.2.10")
    ]


def test_alb_names_resolve_only_while_the_alb_exists(world: StaticZoneSource) -> None:
    alive: set[str] = {ALB}
    dns = DnsServer(world, alb_exists=lambda name: name in alive)
    _delegate(world, SUB_NS)
    assert dns.lookup(ALB) == ["127.0.0.1"]
    assert dns.lookup(f"dualstack.{ALB}") == ["127.0.0.1"]
    assert dns.resolve(ALB, "AAAA").rcode == Rcode.NOERROR
    assert not dns.lookup(ALB, "AAAA")
    assert dns.lookup("kubeflow.sub.example.com") == ["127.0.0.1"]
    alive.clear()
    assert dns.resolve(ALB, "A").rcode == Rcode.NXDOMAIN
    gone = dns.resolve("kubeflow.sub.example.com", "A")  # alias to a deleted ALB: NODATA
    assert gone.rcode == Rcode.NOERROR
    assert not gone.answer


def test_wildcard_semantics(dns: DnsServer, world: StaticZoneSource) -> None:
    _delegate(world, SUB_NS)
    assert dns.lookup("exact.sub.example.com") == ["192.0.2.20"]  # the exact name wins
    assert dns.lookup("a.b.sub.example.com") == ["127.0.0.1"]  # several missing labels
    empty_non_terminal = dns.resolve("x.sub.example.com", "A")
    assert empty_non_terminal.rcode == Rcode.NOERROR
    assert not empty_non_terminal.answer
    assert dns.resolve("y.x.sub.example.com", "A").rcode == Rcode.NXDOMAIN  # encloser is x
    assert dns.resolve("exact.sub.example.com", "TXT").rcode == Rcode.NOERROR


def test_nxdomain_versus_nodata(dns: DnsServer) -> None:
    nodata = dns.resolve("www.example.com", "AAAA")
    assert (nodata.rcode, nodata.answer, nodata.authoritative) == (Rcode.NOERROR, (), True)
    assert nodata.authority[0].type == "SOA"
    nxdomain = dns.resolve("missing.example.com", "AAAA")
    assert nxdomain.rcode == Rcode.NXDOMAIN
    assert nxdomain.authority[0].name == "example.com."
    assert dns.resolve("www.elsewhere.org", "A").rcode == Rcode.NXDOMAIN


def test_txt_and_soa_values(dns: DnsServer) -> None:
    assert dns.lookup("txt.example.com", "TXT") == ['"hello world"']
    assert dns.lookup("example.com", "SOA")[0].startswith("ns-1.root-dns.test. ")


def test_private_zones_are_not_public(world: StaticZoneSource) -> None:
    world.put_zone(
        Zone(
            "ZPRIV",
            "internal.example.com",
            True,
            ROOT_NS,
            [_a("db.internal.example.com", "10.0.0.5")],
        )
    )
    world.upsert("ZROOT", Record("internal.example.com", "NS", 300, ROOT_NS))
    dns = DnsServer(world)
    assert dns.resolve("db.internal.example.com", "A").rcode == Rcode.SERVFAIL
    assert dns.resolve_at("db.internal.example.com", "A", "ZPRIV").values("A") == ["10.0.0.5"]


def test_zone_without_hosted_parent_is_a_top_zone() -> None:
    sub_only = StaticZoneSource([z for z in _world().zones() if z.zone_id == "ZSUB"])
    registrar = StaticZoneSource(
        [Zone("ZREG", "other.org", False, ["ns.reg.test"], [_a("other.org", "192.0.2.99")])]
    )
    dns = DnsServer(CombinedZoneSource(sub_only, registrar))
    assert dns.lookup("exact.sub.example.com") == ["192.0.2.20"]
    assert dns.lookup("other.org") == ["192.0.2.99"]


def test_delegation_may_skip_a_level(world: StaticZoneSource) -> None:
    world.put_zone(
        Zone(
            "ZDEEP",
            "a.b.example.com",
            False,
            ["ns.deep.test"],
            [_a("h.a.b.example.com", "192.0.2.30")],
        )
    )
    dns = DnsServer(world)
    assert dns.lookup("h.a.b.example.com") == []
    world.upsert("ZROOT", Record("a.b.example.com", "NS", 300, ["ns.deep.test"]))
    assert dns.lookup("h.a.b.example.com") == ["192.0.2.30"]


def test_duplicate_record_sets_are_merged(world: StaticZoneSource) -> None:
    root = next(z for z in world.zones() if z.zone_id == "ZROOT")
    extra = _a("www.example.com", "192.0.2.11")
    world.put_zone(Zone(root.zone_id, root.name, False, root.name_servers, [*root.records, extra]))
    assert sorted(DnsServer(world).lookup("www.example.com")) == ["192.0.2.10", "192.0.2.11"]


def test_name_server_names_resolve_to_the_server(world: StaticZoneSource) -> None:
    dns = DnsServer(world, host="127.0.0.1")
    assert dns.lookup("ns-7.sub-dns.test") == ["127.0.0.1"]
    assert dns.lookup("NS-1.ROOT-DNS.TEST.") == ["127.0.0.1"]
    assert dns.resolve("ns-1.root-dns.test", "AAAA").rcode == Rcode.NOERROR
    assert dns.resolve("ns-3.root-dns.test", "A").rcode == Rcode.NXDOMAIN


def test_alb_for_follows_aliases_and_cnames(dns: DnsServer, world: StaticZoneSource) -> None:
    assert dns.alb_for("kubeflow.sub.example.com") is None  # not delegated yet
    _delegate(world, SUB_NS)
    assert dns.alb_for("kubeflow.sub.example.com") == ALB
    world.upsert("ZROOT", Record("dash.example.com", "CNAME", 60, ["kubeflow.sub.example.com"]))
    assert dns.alb_for("dash.example.com") == ALB
    assert dns.alb_for("www.example.com") is None
    assert dns.alb_for("missing.example.com") is None
