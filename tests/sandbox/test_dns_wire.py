"""Tests of the sandbox DNS server on the wire, with dnspython as the client (UDP and TCP)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.resolver
import pytest

from sandbox.dns import ZONE_OPTION, AliasTarget, DnsServer, Record, StaticZoneSource, Zone

SUB_NS = ["ns-7.sub-dns.test", "ns-8.sub-dns.test"]
ALB = "k8s-kubeflow-0123.us-east-1.elb.amazonaws.com"
BIG_TXT = [f'"{i:02d}-' + "x" * 60 + '"' for i in range(30)]  # about 2 KB: too big for 512


def _source() -> StaticZoneSource:
    root = Zone(
        "ZROOT",
        "example.com",
        False,
        ["ns-1.root-dns.test"],
        [
            Record("www.example.com", "A", 60, ["192.0.2.10"]),
            Record("c1.example.com", "CNAME", 60, ["www.example.com"]),
            Record("big.example.com", "TXT", 60, BIG_TXT),
            Record("sub.example.com", "NS", 300, SUB_NS),
            Record("lame.example.com", "NS", 300, ["ns.nowhere.test"]),
        ],
    )
    sub = Zone(
        "ZSUB",
        "sub.example.com",
        False,
        SUB_NS,
        [Record("*.sub.example.com", "A", 0, [], AliasTarget(ALB))],
    )
    return StaticZoneSource([root, sub])


@pytest.fixture
def server() -> Iterator[DnsServer]:
    with DnsServer(_source()) as running:
        yield running


@pytest.fixture
def resolver(server: DnsServer) -> dns.resolver.Resolver:
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = server.address[1]
    res.lifetime = 5
    return res


def _udp(server: DnsServer, query: dns.message.Message) -> dns.message.Message:
    return dns.query.udp(query, "127.0.0.1", port=server.address[1], timeout=5)


def test_resolver_finds_the_subdomain_through_the_alias(resolver: dns.resolver.Resolver) -> None:
    answer = resolver.resolve("kubeflow.sub.example.com", "A")
    assert [r.to_text() for r in answer] == ["127.0.0.1"]
    assert answer.response.flags & dns.flags.AA


def test_cname_chain_on_the_wire(resolver: dns.resolver.Resolver) -> None:
    answer = resolver.resolve("c1.example.com", "A")
    assert str(answer.canonical_name) == "www.example.com."
    assert [r.to_text() for r in answer] == ["192.0.2.10"]


def test_nxdomain_and_nodata(server: DnsServer, resolver: dns.resolver.Resolver) -> None:
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("missing.example.com", "A")
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve("www.example.com", "AAAA")
    reply = _udp(server, dns.message.make_query("missing.example.com", "A"))
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert reply.flags & dns.flags.AA
    assert [rrset.rdtype.name for rrset in reply.authority] == ["SOA"]


def test_tcp_with_several_queries_on_one_connection(server: DnsServer) -> None:
    with socket.create_connection(server.address, timeout=5) as sock:
        for name, expected in (
            ("www.example.com", "192.0.2.10"),
            ("x.sub.example.com", "127.0.0.1"),
        ):
            reply = dns.query.tcp(
                dns.message.make_query(name, "A"), "127.0.0.1", sock=sock, timeout=5
            )
            assert reply.answer[-1][0].to_text() == expected


def test_large_answer_is_truncated_over_udp_and_whole_over_tcp(
    server: DnsServer, resolver: dns.resolver.Resolver
) -> None:
    query = dns.message.make_query("big.example.com", "TXT")
    truncated = _udp(server, query)
    assert truncated.flags & dns.flags.TC
    assert not truncated.answer
    assert truncated.question[0].name.to_text() == "big.example.com."
    assert len(resolver.resolve("big.example.com", "TXT")) == len(BIG_TXT)  # retried over TCP
    roomy = dns.message.make_query("big.example.com", "TXT", use_edns=0, payload=4096)
    whole = _udp(server, roomy)
    assert not whole.flags & dns.flags.TC
    assert len(whole.answer[0]) == len(BIG_TXT)


def test_zone_option_asks_one_zones_authoritative_servers(server: DnsServer) -> None:
    option = dns.edns.GenericOption(dns.edns.OptionType.make(ZONE_OPTION), b"example.com")
    query = dns.message.make_query("kubeflow.sub.example.com", "A", use_edns=0, options=[option])
    referral = _udp(server, query)
    assert referral.rcode() == dns.rcode.NOERROR
    assert not referral.answer
    assert not referral.flags & dns.flags.AA
    assert not referral.flags & dns.flags.RA
    assert sorted(r.to_text() for r in referral.authority[0]) == [ns + "." for ns in SUB_NS]


def test_lame_delegation_is_a_server_failure(
    server: DnsServer, resolver: dns.resolver.Resolver
) -> None:
    assert (
        _udp(server, dns.message.make_query("x.lame.example.com", "A")).rcode()
        == dns.rcode.SERVFAIL
    )
    with pytest.raises(dns.resolver.NoNameservers):
        resolver.resolve("x.lame.example.com", "A")


def test_garbage_and_other_classes_do_not_break_the_server(server: DnsServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"\x12\x34garbage", server.address)
    chaos = dns.message.make_query("version.bind", "TXT", rdclass=dns.rdataclass.CH)
    assert _udp(server, chaos).rcode() == dns.rcode.REFUSED
    assert _udp(server, dns.message.make_query("www.example.com", "A")).answer


def test_stop_releases_the_port() -> None:
    server = DnsServer(_source()).start()
    address = server.address
    server.stop()
    with pytest.raises(RuntimeError):
        _ = server.address
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)


class _WatchedSource(StaticZoneSource):
    """Signals each time the server reads the zones."""

    def __init__(self) -> None:
        super().__init__(_source().zones())
        self.read = threading.Event()

    def zones(self) -> list[Zone]:
        self.read.set()
        return super().zones()


def test_poller_starts_the_propagation_clock_without_queries() -> None:
    now = [0.0]
    source = _WatchedSource()
    with DnsServer(source, propagation_delay=30.0, clock=lambda: now[0]) as server:
        source.upsert("ZROOT", Record("new.example.com", "A", 60, ["192.0.2.2"]))
        for _ in range(2):  # the second read surely began after the upsert
            source.read.clear()
            assert source.read.wait(timeout=10)
        now[0] = 30.0
        assert server.lookup("new.example.com") == ["192.0.2.2"]
