"""The DNS waits and the HTTPS check against the sandbox DNS server and HTTPS endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import PermanentError, WaitTimeout
from core.settings import Settings
from sandbox.ca import SandboxCA
from sandbox.dns import DnsServer, Record, StaticZoneSource, Zone
from sandbox.https_endpoint import HttpsEndpoint, StaticRouteTable
from tasks.dns import answers, authoritative_answers, wait_for_delegation, wait_for_dns
from tasks.https import probe, wait_for_dashboard

ROOT_NS = ("ns-1.awsdns-01.com", "ns-2.awsdns-02.net")
SUB_NS = ("ns-3.awsdns-03.org", "ns-4.awsdns-04.co.uk")
ALB = "k8s-istio-abc-123.us-west-2.elb.amazonaws.com"


@pytest.fixture
def zones() -> StaticZoneSource:
    root = Zone("ZROOT", "example.com.", name_servers=ROOT_NS)
    sub = Zone("ZSUB", "platform.example.com.", name_servers=SUB_NS,
               records=(Record("*.platform.example.com.", "CNAME", 60, (ALB + ".",)),))  # fmt: skip
    return StaticZoneSource([root, sub])


@pytest.fixture
def dns_server(zones: StaticZoneSource) -> Iterator[DnsServer]:
    with DnsServer(zones, alb_exists=lambda name: name.rstrip(".").endswith(ALB)) as server:
        yield server


@pytest.fixture
def settings(dns_server: DnsServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    env = {
        "KFALB_DNS_NAMESERVERS": dns_server.nameserver,
        "KFALB_AUTHORITATIVE_DNS_PORT": str(dns_server.address[1]),
        "KFALB_POLL_INTERVAL_SECONDS": "0.02",
        "KFALB_POLL_MAX_INTERVAL_SECONDS": "0.05",
        "KFALB_DELEGATION_TIMEOUT_SECONDS": "0.5",
        "KFALB_DNS_TIMEOUT_SECONDS": "0.5",
        "KFALB_HTTPS_TIMEOUT_SECONDS": "0.5",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def _delegate(zones: StaticZoneSource, servers: tuple[str, ...]) -> None:
    zones.upsert(
        "ZROOT", Record("platform.example.com.", "NS", 300, tuple(s + "." for s in servers))
    )


def test_delegation_wait_fails_with_what_it_saw_then_passes_once_delegated(
    zones: StaticZoneSource, settings: Settings
) -> None:
    with pytest.raises(
        WaitTimeout,
        match=r"name servers to delegate platform\.example\.com.*last seen: 127\.0\.0\.1: none",
    ):
        wait_for_delegation.fn("platform.example.com", SUB_NS, root_name_servers=ROOT_NS)
    _delegate(zones, SUB_NS)
    found = wait_for_delegation.fn("platform.example.com", SUB_NS, root_name_servers=ROOT_NS)
    assert set(found) == set(SUB_NS)


def test_delegation_to_other_name_servers_is_not_accepted(
    zones: StaticZoneSource, settings: Settings
) -> None:
    _delegate(zones, ("ns-9.elsewhere.com", "ns-10.elsewhere.net"))
    with pytest.raises(WaitTimeout):
        wait_for_delegation.fn("platform.example.com", SUB_NS)


def test_authoritative_answers_ask_each_name_server(
    zones: StaticZoneSource, settings: Settings
) -> None:
    _delegate(zones, SUB_NS)
    found = authoritative_answers("kubeflow.platform.example.com", "A", SUB_NS, settings)
    assert found
    assert all(ALB in values for values in found.values())


def test_dns_wait_needs_the_alb_name_to_resolve(
    zones: StaticZoneSource, settings: Settings
) -> None:
    _delegate(zones, SUB_NS)
    assert answers(ALB, "A", settings) == ("127.0.0.1",)
    assert wait_for_dns.fn("kubeflow.platform.example.com", ALB, zone_name_servers=SUB_NS) == (
        "127.0.0.1",
    )
    with pytest.raises(PermanentError, match="does not resolve"):
        wait_for_dns.fn("kubeflow.platform.example.com", "gone.us-west-2.elb.amazonaws.com",
                        zone_name_servers=SUB_NS)  # fmt: skip


@pytest.fixture
def endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> Iterator[StaticRouteTable]:
    ca = SandboxCA()
    monkeypatch.setenv("KFALB_CA_BUNDLE", str(ca.write_bundle(tmp_path / "ca.pem")))
    routes = StaticRouteTable()
    with HttpsEndpoint(ca, routes) as server:
        monkeypatch.setenv("KFALB_HTTPS_PORT", str(server.port))
        yield routes


def test_https_check_accepts_the_login_redirect_with_a_valid_certificate(
    zones: StaticZoneSource, endpoint: StaticRouteTable
) -> None:
    _delegate(zones, SUB_NS)
    endpoint.set("kubeflow.platform.example.com", ["*.platform.example.com"])
    answer = wait_for_dashboard.fn("kubeflow.platform.example.com")
    assert answer.ok
    assert answer.status == 302
    assert answer.location.startswith("/dex/auth")
    assert answer.certificate_names == ("*.platform.example.com",)
    assert answer.certificate_expires is not None


def test_https_check_rejects_a_certificate_for_other_names(
    zones: StaticZoneSource, endpoint: StaticRouteTable
) -> None:
    _delegate(zones, SUB_NS)
    endpoint.set("kubeflow.platform.example.com", ["*.other.example.com"])
    answer = probe("kubeflow.platform.example.com", Settings())
    assert not answer.ok
    assert "certificate not valid for kubeflow.platform.example.com" in answer.error
    with pytest.raises(WaitTimeout, match="certificate not valid"):
        wait_for_dashboard.fn("kubeflow.platform.example.com")


def test_https_check_says_when_the_name_does_not_resolve(
    zones: StaticZoneSource, endpoint: StaticRouteTable
) -> None:
    answer = probe("kubeflow.platform.example.com", Settings())
    assert answer.error == "kubeflow.platform.example.com does not resolve"
